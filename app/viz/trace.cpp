// One traced training step: the forward run module by module, each node's backward closure timed.
#include "app/viz/trace.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <sstream>

#include "core/allocator.h"
#include "core/backend.h"
#include "ops/ops.h"

namespace nat::viz {

size_t TraceSpan::saved_bytes() const {
  size_t s = 0;
  for (const auto& o : ops) s += o.saved_bytes;
  return s;
}

double TraceSpan::backward_ms() const {
  double s = 0;
  for (const auto& o : ops) s += o.backward_ms;
  return s;
}

size_t Trace::saved_bytes() const {
  size_t s = 0;
  for (const auto& sp : spans) s += sp.saved_bytes();
  return s;
}

double Trace::backward_closure_ms() const {
  double s = 0;
  for (const auto& sp : spans) s += sp.backward_ms();
  return s;
}

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// Clocks read after the device has finished what was queued.
void sync(Device d) {
  if (d.is_cuda()) backend(d).synchronize(d.index);
}

class Tracer {
 public:
  Tracer(Trace& t, Device dev) : trace_(&t), dev_(dev) {}

  // Runs fn() as one span: its wall time, and the tape nodes it appended.
  Tensor span(const std::string& module, const std::string& group, const std::function<Tensor()>& fn) {
    const size_t before = tape_size();
    sync(dev_);
    auto t0 = Clock::now();
    Tensor y = fn();
    sync(dev_);
    TraceSpan s{.module = module, .group = group, .forward_ms = ms_since(t0), .ops = {}};
    const auto& nodes = tape_nodes();
    for (size_t i = before; i < nodes.size(); ++i) {
      const Node& n = *nodes[i];
      TraceOp op{.index = n.index,
                 .name = n.name,
                 .inputs = n.input_descs,
                 .outputs = n.output_descs,
                 .input_gets_grad = {},
                 .saved_bytes = n.saved_bytes,
                 .backward_ms = 0};
      for (const auto& in : n.inputs) op.input_gets_grad.push_back(in != nullptr);
      s.ops.push_back(std::move(op));
    }
    trace_->spans.push_back(std::move(s));
    return y;
  }

 private:
  Trace* trace_;
  Device dev_;
};

std::string ms(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%9.2f ms", v);
  return b;
}

std::string bytes(size_t v) {
  char b[32];
  std::snprintf(b, sizeof b, "%11s", human_bytes(static_cast<int64_t>(v)).c_str());
  return b;
}

std::string percent(double part, double whole) {
  char b[16];
  std::snprintf(b, sizeof b, "%5.1f%%", whole > 0 ? 100.0 * part / whole : 0.0);
  return b;
}

std::string thousands(int64_t n) {  // 27901582 -> "27,901,582"
  std::string d = std::to_string(n), out;
  for (size_t i = 0; i < d.size(); ++i) {
    if (i && (d.size() - i) % 3 == 0) out += ',';
    out += d[i];
  }
  return out;
}

// Columns: a 38-character label, then fwd, bwd and saved, so spans, groups and nodes line up.
std::string row(const std::string& label, const std::string& fwd, const std::string& bwd, const std::string& saved,
                const std::string& tail) {
  char b[512];
  std::snprintf(b, sizeof b, "%-38s %15s  bwd%s  saved%s  %s", label.c_str(), fwd.c_str(), bwd.c_str(), saved.c_str(),
                tail.c_str());
  return b;
}

std::string op_line(const TraceOp& o) {
  std::ostringstream sig;
  sig << "(";
  for (size_t i = 0; i < o.inputs.size(); ++i)
    sig << (i ? ", " : "") << o.inputs[i].str() << (o.input_gets_grad[i] ? "*" : "");
  sig << ") -> ";
  for (size_t i = 0; i < o.outputs.size(); ++i) sig << (i ? ", " : "") << o.outputs[i].str();
  char label[64];
  std::snprintf(label, sizeof label, "      #%-5zu %s", o.index, o.name.c_str());
  return row(label, "", ms(o.backward_ms), bytes(o.saved_bytes), sig.str());
}

}  // namespace

namespace {

// One step: the forward span by span, the loss, and backward with every node's closure timed.
Trace trace_once(nn::NAT& model, const Tensor& images, const Tensor& labels) {
  Trace t;
  t.model = model.config.name;
  t.parameters = model.num_parameters();
  t.input = {images.shape(), images.dtype(), images.device()};
  t.training = model.is_training();
  clear_tape();
  const Device dev = images.device();
  Tracer tr(t, dev);

  // NAT::forward_features and NATLayer::forward, call for call.
  Tensor y = tr.span("patch_embed", "patch_embed",
                     [&] { return model.pos_drop->forward(model.patch_embed->forward(images)); });
  for (size_t l = 0; l < model.levels->size(); ++l) {
    auto level = model.level(l);
    const std::string group = "levels." + std::to_string(l);
    for (size_t b = 0; b < level->blocks->size(); ++b) {
      auto layer = level->layer(b);
      const std::string p = group + ".blocks." + std::to_string(b);
      Tensor n1 = tr.span(p + ".norm1", group, [&] { return layer->norm1->forward(y); });
      Tensor a = tr.span(p + ".attn", group, [&] { return layer->attn->forward(n1); });
      Tensor h = tr.span(p + " residual 1", group, [&] {
        Tensor s = layer->gamma1.defined() ? ops::mul(a, layer->gamma1) : a;
        return ops::add(y, layer->drop_path->forward(s));
      });
      Tensor n2 = tr.span(p + ".norm2", group, [&] { return layer->norm2->forward(h); });
      Tensor m = tr.span(p + ".mlp", group, [&] { return layer->mlp->forward(n2); });
      y = tr.span(p + " residual 2", group, [&] {
        Tensor s = layer->gamma2.defined() ? ops::mul(m, layer->gamma2) : m;
        return ops::add(h, layer->drop_path->forward(s));
      });
    }
    if (level->downsample) y = tr.span(group + ".downsample", group, [&] { return level->downsample->forward(y); });
  }
  Tensor f = tr.span("norm + mean over tokens", "head", [&] { return ops::mean(model.norm->forward(y), {1, 2}); });
  Tensor logits = model.head ? tr.span("head", "head", [&] { return model.head->forward(f); }) : f;
  Tensor loss = tr.span("cross_entropy", "head", [&] { return ops::cross_entropy(logits, labels); });
  t.logits = detach(logits);
  t.loss = loss.item();
  for (const auto& s : t.spans) t.forward_ms += s.forward_ms;
  t.tape_nodes = tape_size();

  // Time each node's backward closure: wrap it, keeping the times outside the nodes (backward frees them).
  auto times = std::make_shared<std::vector<double>>(t.tape_nodes, 0.0);
  for (const auto& node : tape_nodes()) {
    BackwardFn inner = std::move(node->backward);
    const size_t i = node->index;
    node->backward = [inner = std::move(inner), times, i, dev](const std::vector<Tensor>& g) {
      sync(dev);
      auto t0 = Clock::now();
      std::vector<Tensor> r = inner(g);
      sync(dev);
      (*times)[i] = ms_since(t0);
      return r;
    };
  }
  sync(dev);
  auto t0 = Clock::now();
  backward(loss);
  sync(dev);
  t.backward_ms = ms_since(t0);
  for (auto& s : t.spans)
    for (auto& o : s.ops) o.backward_ms = (*times)[o.index];
  t.bookkeeping_ms = t.backward_ms - t.backward_closure_ms();
  return t;
}

}  // namespace

Trace trace_step(nn::NAT& model, const Tensor& images, const Tensor& labels, int repeats) {
  NAT_CHECK(repeats >= 1, "[trace] repeats must be >= 1, got ", repeats);
  Trace best = trace_once(model, images, labels);
  for (int r = 1; r < repeats; ++r) {
    Trace t = trace_once(model, images, labels);
    NAT_CHECK(t.spans.size() == best.spans.size() && t.tape_nodes == best.tape_nodes,
              "[trace] the steps recorded different tapes (", best.tape_nodes, " and ", t.tape_nodes, " nodes)");
    for (size_t i = 0; i < t.spans.size(); ++i) {
      t.spans[i].forward_ms = std::min(t.spans[i].forward_ms, best.spans[i].forward_ms);
      for (size_t j = 0; j < t.spans[i].ops.size(); ++j)
        t.spans[i].ops[j].backward_ms = std::min(t.spans[i].ops[j].backward_ms, best.spans[i].ops[j].backward_ms);
    }
    t.backward_ms = std::min(t.backward_ms, best.backward_ms);
    t.bookkeeping_ms = std::min(t.bookkeeping_ms, best.bookkeeping_ms);
    best = std::move(t);
  }
  best.repeats = repeats;
  best.forward_ms = 0;
  for (const auto& s : best.spans) best.forward_ms += s.forward_ms;
  return best;
}

std::string format_trace(const Trace& t, bool ops) {
  std::ostringstream os;
  os << "nat trace: " << t.model << " (" << thousands(t.parameters) << " parameters), input " << t.input.str() << " on "
     << t.input.device.str() << ", " << (t.training ? "train" : "eval") << " mode\n"
     << "one forward, cross-entropy (loss " << t.loss << "), one backward: " << t.tape_nodes << " tape nodes"
     << (t.repeats > 1 ? ", times the minimum over " + std::to_string(t.repeats) + " steps" : std::string()) << "\n\n"
     << "What is measured:\n"
     << "  fwd    wall time of each module call below; the ops it recorded ran inside it. The calls are those of\n"
     << "         NAT::forward, one by one, so the spans add up to the whole forward.\n"
     << "  bwd    time inside each node's backward closure; routing and accumulating gradients between nodes is\n"
     << "         the 'autograd bookkeeping' line of the totals.\n"
     << "  saved  bytes a node's backward keeps alive until backward runs (a tensor that several nodes keep is\n"
     << "         counted once per node, so the sum can exceed the real peak).\n"
     << "  op(input*, ...) -> outputs: * marks an input that receives a gradient from the node; f32[] is a\n"
     << "         scalar or an absent optional input (a conv without bias).\n";

  // Groups in order of first appearance.
  std::vector<std::string> groups;
  for (const auto& s : t.spans)
    if (std::find(groups.begin(), groups.end(), s.group) == groups.end()) groups.push_back(s.group);
  struct Totals {
    size_t nodes = 0, saved = 0;
    double fwd = 0, bwd = 0;
  };
  std::map<std::string, Totals> by_group;
  for (const auto& s : t.spans) {
    Totals& g = by_group[s.group];
    g.nodes += s.ops.size(), g.saved += s.saved_bytes(), g.fwd += s.forward_ms, g.bwd += s.backward_ms();
  }
  auto nodes = [](size_t n) { return std::to_string(n) + (n == 1 ? " node" : " nodes"); };
  for (const auto& g : groups) {
    const Totals& tot = by_group[g];
    os << "\n" << row("== " + g + " ", "fwd" + ms(tot.fwd), ms(tot.bwd), bytes(tot.saved), nodes(tot.nodes)) << "\n";
    for (const auto& s : t.spans) {
      if (s.group != g) continue;
      os << row("  " + s.module, "fwd" + ms(s.forward_ms), ms(s.backward_ms()), bytes(s.saved_bytes()),
                nodes(s.ops.size()))
         << "\n";
      if (ops)
        for (const auto& o : s.ops) os << op_line(o) << "\n";
    }
  }

  const double bwd_closures = t.backward_closure_ms();
  char line[256];
  os << "\n== totals by level ==\n";
  std::snprintf(line, sizeof line, "  %-14s %7s %12s %7s %12s %7s %11s %7s\n", "group", "nodes", "fwd", "", "bwd", "",
                "saved", "");
  os << line;
  for (const auto& g : groups) {
    const Totals& tot = by_group[g];
    std::snprintf(line, sizeof line, "  %-14s %7zu %s %s %s %s %s %s\n", g.c_str(), tot.nodes, ms(tot.fwd).c_str(),
                  percent(tot.fwd, t.forward_ms).c_str(), ms(tot.bwd).c_str(), percent(tot.bwd, bwd_closures).c_str(),
                  bytes(tot.saved).c_str(),
                  percent(static_cast<double>(tot.saved), static_cast<double>(t.saved_bytes())).c_str());
    os << line;
  }

  struct OpTotals {
    size_t count = 0, saved = 0;
    double bwd = 0;
  };
  std::map<std::string, OpTotals> by_op;
  for (const auto& s : t.spans)
    for (const auto& o : s.ops) {
      OpTotals& x = by_op[o.name];
      ++x.count, x.saved += o.saved_bytes, x.bwd += o.backward_ms;
    }
  std::vector<std::pair<std::string, OpTotals>> sorted(by_op.begin(), by_op.end());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second.bwd > b.second.bwd; });
  os << "\n== totals by op (sorted by backward time) ==\n";
  std::snprintf(line, sizeof line, "  %-14s %7s %12s %7s %11s %7s\n", "op", "nodes", "bwd", "", "saved", "");
  os << line;
  for (const auto& [name, x] : sorted) {
    std::snprintf(line, sizeof line, "  %-14s %7zu %s %s %s %s\n", name.c_str(), x.count, ms(x.bwd).c_str(),
                  percent(x.bwd, bwd_closures).c_str(), bytes(x.saved).c_str(),
                  percent(static_cast<double>(x.saved), static_cast<double>(t.saved_bytes())).c_str());
    os << line;
  }

  os << "\n== totals ==\n"
     << "  tape nodes              " << t.tape_nodes << "\n"
     << "  forward              " << ms(t.forward_ms) << "   (sum of the module calls)\n"
     << "  backward             " << ms(t.backward_ms) << "   (the whole backward() call)\n"
     << "    node closures      " << ms(bwd_closures) << "   (sum over the nodes)\n"
     << "    autograd bookkeeping" << ms(t.bookkeeping_ms) << "   (backward() minus its closures)\n"
     << "  saved for backward   " << bytes(t.saved_bytes()) << "  (sum over the nodes)\n";
  if (t.repeats > 1)
    os << "  (each time is a minimum over " << t.repeats << " steps, taken separately, so the parts need not add up\n"
       << "   to the whole exactly)\n";
  return os.str();
}

}  // namespace nat::viz
