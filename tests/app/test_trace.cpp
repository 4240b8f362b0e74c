// `nat trace` (app/viz/trace): the traced step lists every node the model records, once and in tape order; the
// module-by-module forward gives the model's own logits and gradients; and every total is the sum of its parts.
#include <gtest/gtest.h>

#include <sstream>

#include "app/viz/trace.h"
#include "autograd/autograd.h"
#include "ops/ops.h"
#include "support/test_util.h"

using namespace nat;
using namespace nat::viz;

namespace {

const char* kSpec = R"({"base": "nat_mini", "embed_dim": 16, "depths": [1, 2], "num_heads": [1, 2],
                        "kernel_size": 3, "num_classes": 5, "layer_scale": 0.5, "drop_path_rate": 0.3})";

struct Inputs {
  Tensor x, y;
};

Inputs inputs() {
  Generator g(3);
  return {randn({2, 3, 24, 24}, DType::f32, Device::cpu(), &g), Tensor::from_vector<int64_t>({1, 4}, {2})};
}

// What a plain training step records: (name, output shapes, saved bytes) per node.
std::vector<std::string> plain_tape(nn::NAT& model, const Inputs& in, size_t* saved) {
  clear_tape();
  Tensor loss = ops::cross_entropy(model.forward(in.x), in.y);
  std::vector<std::string> out;
  *saved = 0;
  for (const auto& n : tape_nodes()) {
    std::ostringstream os;
    os << n->name;
    for (const auto& d : n->output_descs) os << " " << d.str();
    out.push_back(os.str());
    *saved += n->saved_bytes;
  }
  clear_tape();
  return out;
}

std::vector<std::string> traced_tape(const Trace& t) {
  std::vector<std::string> out;
  for (const auto& s : t.spans)
    for (const auto& o : s.ops) {
      std::ostringstream os;
      os << o.name;
      for (const auto& d : o.outputs) os << " " << d.str();
      out.push_back(os.str());
    }
  return out;
}

}  // namespace

TEST(AppTrace, ListsEveryRecordedNodeOnceInTapeOrder) {
  for (bool training : {false, true}) {
    SCOPED_TRACE(training ? "train mode" : "eval mode");
    auto model = nn::create_nat(kSpec, 1);
    model->train(training);
    Inputs in = inputs();
    size_t plain_saved = 0;
    std::vector<std::string> plain = plain_tape(*model, in, &plain_saved);
    Trace t = trace_step(*model, in.x, in.y);
    EXPECT_EQ(traced_tape(t), plain);
    EXPECT_EQ(t.tape_nodes, plain.size());
    size_t next = 0;
    for (const auto& s : t.spans)
      for (const auto& o : s.ops) EXPECT_EQ(o.index, next++) << s.module;
    EXPECT_EQ(next, t.tape_nodes);
    EXPECT_EQ(t.saved_bytes(), plain_saved);
    if (training) {  // drop path records nodes in train mode only
      bool drop_path = false;
      for (const auto& s : t.spans)
        for (const auto& o : s.ops) drop_path |= o.name == "drop_path";
      EXPECT_TRUE(drop_path);
    }
  }
}

TEST(AppTrace, ModuleByModuleForwardIsTheModelsForward) {
  auto model = nn::create_nat(kSpec, 1);
  model->eval();
  Inputs in = inputs();
  clear_tape();
  Tensor logits = model->forward(in.x);
  backward(ops::cross_entropy(logits, in.y));
  std::vector<std::pair<std::string, Tensor>> grads;
  for (const auto& [name, p] : model->named_parameters()) grads.emplace_back(name, grad(p).clone());
  model->zero_grad();

  Trace t = trace_step(*model, in.x, in.y);  // the timed closures must compute the same gradients
  EXPECT_EQ(nat::testing::max_abs_diff(t.logits, logits), 0.0);
  for (const auto& [name, g] : grads) {
    Tensor p;
    for (const auto& [n, q] : model->named_parameters())
      if (n == name) p = q;
    EXPECT_EQ(nat::testing::max_abs_diff(grad(p), g), 0.0) << name;
  }
  EXPECT_EQ(tape_size(), 0u) << "backward should have consumed the traced tape";
}

TEST(AppTrace, TotalsAreTheSumsOfTheirParts) {
  auto model = nn::create_nat(kSpec, 1);
  Inputs in = inputs();
  Trace t = trace_step(*model, in.x, in.y);
  double fwd = 0, bwd = 0;
  size_t saved = 0, nodes = 0;
  for (const auto& s : t.spans) {
    fwd += s.forward_ms;
    double sb = 0;
    size_t ss = 0;
    for (const auto& o : s.ops) sb += o.backward_ms, ss += o.saved_bytes;
    EXPECT_DOUBLE_EQ(s.backward_ms(), sb);
    EXPECT_EQ(s.saved_bytes(), ss);
    bwd += sb, saved += ss, nodes += s.ops.size();
    EXPECT_GE(s.forward_ms, 0.0);
  }
  EXPECT_DOUBLE_EQ(t.forward_ms, fwd);
  EXPECT_DOUBLE_EQ(t.backward_closure_ms(), bwd);
  EXPECT_NEAR(t.backward_ms, t.backward_closure_ms() + t.bookkeeping_ms, 1e-9);
  EXPECT_LE(t.backward_closure_ms(), t.backward_ms);
  EXPECT_EQ(t.saved_bytes(), saved);
  EXPECT_EQ(nodes, t.tape_nodes);

  // The report prints one line per node and the totals it computed.
  std::string report = format_trace(t);
  size_t node_lines = 0;
  std::istringstream lines(report);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("      #", 0) == 0) ++node_lines;
  EXPECT_EQ(node_lines, t.tape_nodes);
  EXPECT_NE(report.find("tape nodes              " + std::to_string(t.tape_nodes)), std::string::npos);
  EXPECT_NE(report.find("== levels.1 "), std::string::npos);
  std::string summary = format_trace(t, /*ops=*/false);
  EXPECT_EQ(summary.find("      #"), std::string::npos);
}

TEST(AppTrace, RepeatsKeepTheStructureAndTakeMinima) {
  auto model = nn::create_nat(kSpec, 1);
  model->eval();
  Inputs in = inputs();
  Trace one = trace_step(*model, in.x, in.y, 1);
  Trace three = trace_step(*model, in.x, in.y, 3);
  EXPECT_EQ(three.repeats, 3);
  EXPECT_EQ(traced_tape(three), traced_tape(one));
  EXPECT_EQ(three.saved_bytes(), one.saved_bytes());
  double fwd = 0;
  for (const auto& s : three.spans) fwd += s.forward_ms;
  EXPECT_DOUBLE_EQ(three.forward_ms, fwd);
}
