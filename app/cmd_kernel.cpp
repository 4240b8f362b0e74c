// `nat kernel na2d`: runs the Neighborhood Attention op on tensors from a safetensors file, so anyone
// can cross-check nat.cpp against another implementation (e.g. NATTEN <= 0.17 through PyTorch).
#include <cstdio>

#include "app/args.h"
#include "app/commands.h"
#include "nn/safetensors.h"
#include "ops/na.h"
#include "ops/ops.h"

namespace nat::app {

namespace {
const char* kHelp =
    "usage: nat kernel na2d --input IN.safetensors --output OUT.safetensors\n"
    "                       [--kernel-size K] [--dilation D] [--device cpu|cuda]\n\n"
    "Reads f32 tensors q, k, v ([B, heads, H, W, D]; q unscaled: the op scales it by D^-0.5),\n"
    "rpb ([heads, 2K-1, 2K-1], optional) and dout (optional). Writes `out` and, when dout is given,\n"
    "dq (with respect to the unscaled q), dk, dv and drpb. Defaults: K=7, D=1, device cpu.\n";
}

int cmd_kernel(const std::vector<std::string>& argv) {
  Args args("kernel", argv, {"input", "output", "kernel-size", "dilation", "device"});
  if (args.help() || args.positional().empty()) {
    std::printf("%s", kHelp);
    return args.help() ? 0 : 1;
  }
  NAT_CHECK(args.positional()[0] == "na2d", "unknown kernel '", args.positional()[0], "' (available: na2d)");
  std::string in_path = args.required("input"), out_path = args.required("output");
  int64_t ks = args.get_int("kernel-size", 7, 1, 255), dil = args.get_int("dilation", 1, 1, 1024);
  Device dev = parse_device(args.get("device", "cpu"));

  nn::TensorFile in = nn::load_safetensors(in_path);
  auto load = [&](const char* name, bool required) -> Tensor {
    const Tensor* t = in.find(name);
    NAT_CHECK(t || !required, "[nat kernel] ", in_path, ": missing tensor '", name, "'");
    if (!t) return Tensor();
    NAT_CHECK(t->dtype() == DType::f32, "[nat kernel] ", in_path, ": tensor '", name, "' must be F32, got ",
              dtype_name(t->dtype()));
    return t->to(dev);
  };
  Tensor q = load("q", true), k = load("k", true), v = load("v", true), rpb = load("rpb", false),
         dout = load("dout", false);
  bool grads = dout.defined();
  if (grads) {
    for (Tensor* t : {&q, &k, &v, &rpb})
      if (t->defined()) set_requires_grad(*t);
  }
  Tensor out = ops::na2d(q, k, v, rpb, ks, dil);
  std::vector<std::pair<std::string, Tensor>> result = {{"out", detach(out)}};
  if (grads) {
    backward(out, dout);
    result.emplace_back("dq", grad(q));
    result.emplace_back("dk", grad(k));
    result.emplace_back("dv", grad(v));
    if (rpb.defined()) result.emplace_back("drpb", grad(rpb));
  }
  nn::save_safetensors(out_path, result,
                       {{"kernel", "na2d"}, {"kernel_size", std::to_string(ks)}, {"dilation", std::to_string(dil)}});
  std::printf("na2d: q %s, kernel_size %lld, dilation %lld on %s -> %s (%s)\n", shape_str(q.shape()).c_str(),
              static_cast<long long>(ks), static_cast<long long>(dil), dev.str().c_str(), out_path.c_str(),
              grads ? "out, dq, dk, dv, drpb" : "out");
  return 0;
}

}  // namespace nat::app
