// The key table: every TrainConfig key with its type, range and help. Types follow timm's argparse
// (int, float, bool, str, lists for nargs='+'); booleans accept YAML 1.1 / Python spellings (True,
// false, yes, off), since NAT's configs were written for PyYAML. A null resets a key to its default,
// except for keys whose default is not "off" but whose None means off in timm (aa, clip_grad, ...).
#include "train/config_keys.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <optional>
#include <type_traits>

namespace nat::train::detail {

namespace {

const TrainConfig& defaults() {
  static const TrainConfig d;
  return d;
}

std::string dump(const YAML::Node& n) {
  std::string s = YAML::Dump(n);
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

[[noreturn]] void expected(const std::string& what, const YAML::Node& n) {
  throw ValueError{"expected " + what + ", got '" + dump(n) + "'"};
}

// ---- codecs: YAML node <-> value ----
template <typename T>
struct Codec;

template <>
struct Codec<int64_t> {
  static std::string type() { return "int"; }
  static int64_t parse(const YAML::Node& n) {
    if (!n.IsScalar()) expected("an integer", n);
    const std::string& s = n.Scalar();
    int64_t v = 0;
    const char* b = s.data() + (s.size() > 1 && s[0] == '+' ? 1 : 0);
    auto r = std::from_chars(b, s.data() + s.size(), v);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size()) expected("an integer", n);
    return v;
  }
  static std::string show(int64_t v) { return std::to_string(v); }
  static void emit(YAML::Emitter& e, int64_t v) { e << v; }
};

template <>
struct Codec<double> {
  static std::string type() { return "float"; }
  static double parse(const YAML::Node& n) {
    if (!n.IsScalar()) expected("a number", n);
    const std::string& s = n.Scalar();
    double v = 0;
    const char* b = s.data() + (s.size() > 1 && s[0] == '+' ? 1 : 0);
    auto r = std::from_chars(b, s.data() + s.size(), v);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size() || !std::isfinite(v)) expected("a number", n);
    return v;
  }
  static std::string show(double v) { return number_str(v); }
  static void emit(YAML::Emitter& e, double v) { e << yaml_number(v); }
};

template <>
struct Codec<bool> {
  static std::string type() { return "bool"; }
  static bool parse(const YAML::Node& n) {
    if (n.IsScalar()) {
      std::string s = lower(n.Scalar());
      if (s == "true" || s == "yes" || s == "on" || s == "y") return true;
      if (s == "false" || s == "no" || s == "off" || s == "n") return false;
    }
    expected("true or false", n);
  }
  static std::string show(bool v) { return v ? "true" : "false"; }
  static void emit(YAML::Emitter& e, bool v) { e << v; }
};

template <>
struct Codec<std::string> {
  static std::string type() { return "str"; }
  static std::string parse(const YAML::Node& n) {
    if (!n.IsScalar()) expected("a string", n);
    return n.Scalar();
  }
  static std::string show(const std::string& v) { return v.empty() ? "''" : v; }
  static void emit(YAML::Emitter& e, const std::string& v) { e << v; }
};

template <size_t N>
struct Codec<std::array<double, N>> {
  static std::string type() { return "float[" + std::to_string(N) + "]"; }
  static std::array<double, N> parse(const YAML::Node& n) {
    if (!n.IsSequence() || n.size() != N) expected("a list of " + std::to_string(N) + " numbers", n);
    std::array<double, N> a{};
    for (size_t i = 0; i < N; ++i) a[i] = Codec<double>::parse(n[i]);
    return a;
  }
  static std::string show(const std::array<double, N>& v) {
    std::string s = "[";
    for (size_t i = 0; i < N; ++i) s += (i ? ", " : "") + number_str(v[i]);
    return s + "]";
  }
  static void emit(YAML::Emitter& e, const std::array<double, N>& v) {
    e << YAML::Flow << YAML::BeginSeq;
    for (double x : v) e << yaml_number(x);
    e << YAML::EndSeq;
  }
};

template <>
struct Codec<std::vector<int64_t>> {
  static std::string type() { return "int list"; }
  static std::vector<int64_t> parse(const YAML::Node& n) {
    if (!n.IsSequence() || n.size() == 0) expected("a non-empty list of integers", n);
    std::vector<int64_t> v;
    for (const auto& x : n) v.push_back(Codec<int64_t>::parse(x));
    return v;
  }
  static std::string show(const std::vector<int64_t>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
    return s + "]";
  }
  static void emit(YAML::Emitter& e, const std::vector<int64_t>& v) {
    e << YAML::Flow << YAML::BeginSeq;
    for (int64_t x : v) e << x;
    e << YAML::EndSeq;
  }
};

template <>
struct Codec<std::vector<std::vector<int64_t>>> {
  static std::string type() { return "int list list"; }
  static std::vector<std::vector<int64_t>> parse(const YAML::Node& n) {
    if (!n.IsSequence()) expected("a list of integer lists", n);
    std::vector<std::vector<int64_t>> v;
    for (const auto& x : n) {
      if (!x.IsSequence()) expected("a list of integer lists", n);
      std::vector<int64_t> row;
      for (const auto& y : x) row.push_back(Codec<int64_t>::parse(y));
      v.push_back(row);
    }
    return v;
  }
  static std::string show(const std::vector<std::vector<int64_t>>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + Codec<std::vector<int64_t>>::show(v[i]);
    return s + "]";
  }
  static void emit(YAML::Emitter& e, const std::vector<std::vector<int64_t>>& v) {
    e << YAML::Flow << YAML::BeginSeq;
    for (const auto& row : v) Codec<std::vector<int64_t>>::emit(e, row);
    e << YAML::EndSeq;
  }
};

template <typename X>
struct Codec<std::optional<X>> {
  static std::string type() { return Codec<X>::type() + " or null"; }
  static std::optional<X> parse(const YAML::Node& n) { return Codec<X>::parse(n); }
  static std::string show(const std::optional<X>& v) { return v ? Codec<X>::show(*v) : "none"; }
  static void emit(YAML::Emitter& e, const std::optional<X>& v) {
    if (v)
      Codec<X>::emit(e, *v);
    else
      e << YAML::Null;
  }
};

template <typename T>
struct is_optional : std::false_type {};
template <typename X>
struct is_optional<std::optional<X>> : std::true_type {};

// ---- range checks on the parsed value ("" when fine) ----
template <typename X>
using Check = std::function<std::string(const X&)>;

template <typename X>
std::string fmt(const X& v) {
  return Codec<X>::show(v);
}

Check<double> unit_closed() {
  return
      [](const double& v) { return v >= 0 && v <= 1 ? "" : "must be a probability in [0, 1], got " + number_str(v); };
}
Check<double> unit_open() {
  return [](const double& v) { return v >= 0 && v < 1 ? "" : "must be in [0, 1), got " + number_str(v); };
}
Check<double> within(double lo, double hi) {
  return [lo, hi](const double& v) {
    return v >= lo && v <= hi ? std::string()
                              : "must be in [" + number_str(lo) + ", " + number_str(hi) + "], got " + number_str(v);
  };
}
Check<double> positive_at_most(double hi) {
  return [hi](const double& v) {
    return v > 0 && v <= hi ? std::string() : "must be in (0, " + number_str(hi) + "], got " + number_str(v);
  };
}
Check<int64_t> between(int64_t lo, int64_t hi) {
  return [lo, hi](const int64_t& v) {
    return v >= lo && v <= hi
               ? std::string()
               : "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + std::to_string(v);
  };
}
Check<int64_t> at_least(int64_t lo) {
  return [lo](const int64_t& v) {
    return v >= lo ? std::string() : "must be >= " + std::to_string(lo) + ", got " + std::to_string(v);
  };
}
Check<std::string> one_of(std::vector<std::string> allowed) {
  return [allowed](const std::string& v) {
    if (std::find(allowed.begin(), allowed.end(), v) != allowed.end()) return std::string();
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + (a.empty() ? std::string("''") : a);
    return "must be one of " + list + ", got '" + v + "'";
  };
}
template <size_t N>
Check<std::array<double, N>> each(Check<double> c) {
  return [c](const std::array<double, N>& a) {
    for (double x : a)
      if (auto e = c(x); !e.empty()) return e;
    return std::string();
  };
}
Check<std::vector<int64_t>> each_between(int64_t lo, int64_t hi) {
  return [lo, hi](const std::vector<int64_t>& a) {
    if (a.size() > 16) return "at most 16 entries (levels), got " + std::to_string(a.size());
    for (int64_t x : a)
      if (x < lo || x > hi)
        return "every entry must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " +
               std::to_string(x);
    return std::string();
  };
}
Check<std::vector<std::vector<int64_t>>> dilation_lists() {
  return [](const std::vector<std::vector<int64_t>>& a) {
    if (a.size() > 16) return "at most 16 levels, got " + std::to_string(a.size());
    for (const auto& row : a) {
      if (row.size() > 1024) return "at most 1024 layers per level, got " + std::to_string(row.size());
      for (int64_t x : row)
        if (x < 1 || x > 1024) return "every dilation must be in [1, 1024], got " + std::to_string(x);
    }
    return std::string();
  };
}

// A key bound to the field `get` returns. Null resets to the default (optional fields: to none).
template <typename G, typename C = std::nullptr_t>
KeyDef make_key(const char* name, const char* group, const char* help, G get, C check = nullptr,
                const char* none_text = "none") {
  using T = std::remove_reference_t<decltype(get(std::declval<TrainConfig&>()))>;
  KeyDef k;
  k.name = name;
  k.group = group;
  k.type = Codec<T>::type();
  k.help = help;
  k.set = [get, check](TrainConfig& c, const YAML::Node& n) {
    if (n.IsNull()) {
      if constexpr (is_optional<T>::value)
        get(c) = std::nullopt;
      else
        get(c) = get(const_cast<TrainConfig&>(defaults()));
      return;
    }
    T v = Codec<T>::parse(n);
    if constexpr (!std::is_same_v<C, std::nullptr_t>) {
      std::string e;
      if constexpr (is_optional<T>::value)
        e = check(*v);
      else
        e = check(v);
      if (!e.empty()) throw ValueError{e};
    }
    get(c) = v;
  };
  std::string none = none_text;
  k.show = [get, none](const TrainConfig& c) {
    const T& v = get(const_cast<TrainConfig&>(c));
    if constexpr (is_optional<T>::value)
      if (!v) return none;
    return Codec<T>::show(v);
  };
  k.emit = [get](YAML::Emitter& e, const TrainConfig& c) { Codec<T>::emit(e, get(const_cast<TrainConfig&>(c))); };
  return k;
}

#define NAT_FIELD(expr)           \
  +[](TrainConfig & c) -> auto& { \
    return c.expr;                \
  }

std::vector<KeyDef> build_table() {
  const char* M = "model";
  const char* D = "data";
  const char* A = "augment";
  const char* O = "optim";
  const char* S = "sched";
  const char* R = "run";
  const char* kModelKeep = "(model's)";
  std::vector<KeyDef> t;
  // ---- model ----
  t.push_back(make_key(
      "model", M, "registry name (nat_mini ... dinat_base), 'custom', or a JSON NatConfig spec", NAT_FIELD(model),
      [](const std::string& v) { return v.empty() ? std::string("must not be empty") : std::string(); }));
  t.push_back(make_key("embed_dim", M, "channels of the first level", NAT_FIELD(model_keys.embed_dim),
                       between(2, 65536), kModelKeep));
  t.push_back(
      make_key("depths", M, "NAT layers per level", NAT_FIELD(model_keys.depths), each_between(1, 1024), kModelKeep));
  t.push_back(make_key("num_heads", M, "attention heads per level", NAT_FIELD(model_keys.num_heads),
                       each_between(1, 4096), kModelKeep));
  t.push_back(make_key("kernel_size", M, "neighbourhood size (odd)", NAT_FIELD(model_keys.kernel_size), between(1, 255),
                       kModelKeep));
  t.push_back(make_key("dilations", M, "per level, per layer dilation (DiNAT)", NAT_FIELD(model_keys.dilations),
                       dilation_lists(), kModelKeep));
  t.push_back(make_key("mlp_ratio", M, "MLP hidden size / dim", NAT_FIELD(model_keys.mlp_ratio), positive_at_most(64),
                       kModelKeep));
  t.push_back(make_key("layer_scale", M, "gamma initial value (0: no layer scale)", NAT_FIELD(model_keys.layer_scale),
                       within(0, 1e6), kModelKeep));
  t.push_back(make_key("in_chans", M, "input channels (the loader gives RGB: 3)", NAT_FIELD(model_keys.in_chans),
                       between(1, 1024), kModelKeep));
  t.push_back(make_key("drop_path", M, "stochastic depth rate (null: the model's)", NAT_FIELD(model_keys.drop_path),
                       unit_open(), kModelKeep));
  t.push_back(make_key("drop", M, "dropout rate", NAT_FIELD(model_keys.drop), unit_open()));
  t.push_back(make_key("attn_drop_rate", M, "attention dropout rate", NAT_FIELD(model_keys.attn_drop_rate), unit_open(),
                       kModelKeep));
  t.push_back(
      make_key("qkv_bias", M, "bias in the qkv projection", NAT_FIELD(model_keys.qkv_bias), nullptr, kModelKeep));
  t.push_back(make_key("allow_large_window", M, "accept a kernel_size above img_size / 4 (every level padded)",
                       NAT_FIELD(allow_large_window)));
  t.push_back(make_key("initial_checkpoint", M, "safetensors weights to start from (official names)",
                       NAT_FIELD(initial_checkpoint)));
  // ---- data ----
  t.push_back(make_key("data_dir", D, "root holding <split>/<class>/<image>", NAT_FIELD(data.data_dir)));
  t.push_back(
      make_key("dataset", D, "'' (ImageFolder)", NAT_FIELD(data.dataset), one_of({"", "folder", "imagefolder"})));
  t.push_back(make_key("train_split", D, "train split folder", NAT_FIELD(data.train_split)));
  t.push_back(make_key("val_split", D, "validation split folder", NAT_FIELD(data.val_split)));
  t.push_back(make_key("class_map", D, "file of class folder names, one per line", NAT_FIELD(data.class_map)));
  t.push_back(make_key("num_classes", D, "classes (0: from the train split)", NAT_FIELD(data.num_classes),
                       between(0, 10000000)));
  t.push_back(make_key("img_size", D, "input size (square)", NAT_FIELD(data.img_size), between(8, 4096)));
  t.push_back(make_key("crop_pct", D, "eval center-crop fraction", NAT_FIELD(data.crop_pct), [](const double& v) {
    return v > 0 && v <= 1 ? std::string() : "must be in (0, 1], got " + number_str(v);
  }));
  t.push_back(make_key("mean", D, "normalisation mean (RGB)", NAT_FIELD(data.mean), each<3>(within(-1e3, 1e3))));
  t.push_back(make_key("std", D, "normalisation std (RGB)", NAT_FIELD(data.std), each<3>(positive_at_most(1e3))));
  KeyDef interp = make_key("interpolation", D, "eval resize: bilinear | bicubic ('' = bicubic)",
                           NAT_FIELD(data.interpolation), one_of({"", "bilinear", "bicubic"}));
  auto interp_set = interp.set;
  interp.set = [interp_set](TrainConfig& c, const YAML::Node& n) {
    interp_set(c, n);
    if (c.data.interpolation.empty()) c.data.interpolation = "bicubic";  // timm: '' is the model default
  };
  t.push_back(interp);
  t.push_back(make_key("train_interpolation", D, "random | bilinear | bicubic", NAT_FIELD(data.train_interpolation),
                       one_of({"random", "bilinear", "bicubic"})));
  t.push_back(make_key("batch_size", D, "images per step per process", NAT_FIELD(data.batch_size), between(1, 65536)));
  t.push_back(make_key("validation_batch_size", D, "eval batch (0: batch_size)", NAT_FIELD(data.validation_batch_size),
                       between(0, 65536)));
  t.push_back(
      make_key("workers", D, "loader threads (0: in the training thread)", NAT_FIELD(data.workers), between(0, 1024)));
  t.push_back(make_key("pin_mem", D, "pinned host batches (used only with a GPU)", NAT_FIELD(data.pin_mem)));
  t.push_back(make_key("seed", D, "seed of the model init, data order, augmentation and drop path",
                       NAT_FIELD(data.seed), at_least(0)));
  t.push_back(make_key("max_image_pixels", D, "refuse images with more pixels, from the header (0: no limit)",
                       NAT_FIELD(data.max_image_pixels), between(0, int64_t{1} << 40)));
  // ---- augmentation ----
  t.push_back(make_key("no_aug", A, "train with eval geometry, no augmentation", NAT_FIELD(data.no_aug)));
  t.push_back(
      make_key("scale", A, "RandomResizedCrop area range", NAT_FIELD(data.scale), each<2>(positive_at_most(1))));
  t.push_back(
      make_key("ratio", A, "RandomResizedCrop aspect range", NAT_FIELD(data.ratio), each<2>(positive_at_most(100))));
  t.push_back(make_key("hflip", A, "horizontal flip probability", NAT_FIELD(data.hflip), unit_closed()));
  t.push_back(make_key("vflip", A, "vertical flip probability", NAT_FIELD(data.vflip), unit_closed()));
  t.push_back(
      make_key("color_jitter", A, "colour jitter (only when aa is off)", NAT_FIELD(data.color_jitter), unit_open()));
  KeyDef aa = make_key("aa", A, "RandAugment string, e.g. rand-m9-mstd0.5-inc1 (null/none: off)", NAT_FIELD(data.aa),
                       [](const std::string& v) {
                         try {
                           data::parse_rand_augment(v);
                         } catch (const Error& e) {
                           return std::string(e.what());
                         }
                         return std::string();
                       });
  auto aa_set = aa.set;
  aa.set = [aa_set](TrainConfig& c, const YAML::Node& n) {
    if (n.IsNull())
      c.data.aa = "";  // timm's None: no RandAugment
    else
      aa_set(c, n);
  };
  t.push_back(aa);
  t.push_back(make_key("reprob", A, "random erasing probability", NAT_FIELD(data.reprob), unit_closed()));
  t.push_back(make_key("remode", A, "random erasing fill: const | rand | pixel", NAT_FIELD(data.remode),
                       one_of({"const", "rand", "pixel"})));
  t.push_back(make_key("recount", A, "random erasing count", NAT_FIELD(data.recount), between(1, 100)));
  t.push_back(make_key("mixup", A, "mixup alpha (0: off)", NAT_FIELD(data.mixup), within(0, 1e3)));
  t.push_back(make_key("cutmix", A, "cutmix alpha (0: off)", NAT_FIELD(data.cutmix), within(0, 1e3)));
  t.push_back(make_key("cutmix_minmax", A, "cutmix box ratio range (null: from alpha)", NAT_FIELD(data.cutmix_minmax),
                       each<2>(unit_closed())));
  t.push_back(make_key("mixup_prob", A, "probability of mixing a batch", NAT_FIELD(data.mixup_prob), unit_closed()));
  t.push_back(make_key("mixup_switch_prob", A, "probability of cutmix when both are on",
                       NAT_FIELD(data.mixup_switch_prob), unit_closed()));
  t.push_back(
      make_key("mixup_mode", A, "batch | pair | elem", NAT_FIELD(data.mixup_mode), one_of({"batch", "pair", "elem"})));
  t.push_back(make_key("mixup_off_epoch", A, "stop mixing at this epoch (0: never)", NAT_FIELD(data.mixup_off_epoch),
                       between(0, 1000000)));
  t.push_back(make_key("smoothing", A, "label smoothing", NAT_FIELD(data.smoothing), unit_open()));
  // ---- optimiser ----
  t.push_back(make_key("opt", O, "adamw | sgd (nesterov, as timm) | nesterov | momentum", NAT_FIELD(opt),
                       one_of({"adamw", "sgd", "nesterov", "momentum"})));
  t.push_back(make_key("opt_eps", O, "AdamW epsilon", NAT_FIELD(opt_eps), positive_at_most(1)));
  t.push_back(make_key("opt_betas", O, "AdamW betas", NAT_FIELD(opt_betas), each<2>(unit_open())));
  t.push_back(make_key("momentum", O, "SGD momentum", NAT_FIELD(momentum), unit_open()));
  t.push_back(make_key("weight_decay", O, "decoupled (AdamW) or L2 (SGD) weight decay", NAT_FIELD(weight_decay),
                       within(0, 1e3)));
  t.push_back(make_key("decay_rpb", O, "weight-decay the rpb tables (docs/recipe.md §3: the original runs did)",
                       NAT_FIELD(decay_rpb)));
  t.push_back(
      make_key("clip_grad", O, "gradient clipping threshold (null: off)", NAT_FIELD(clip_grad), positive_at_most(1e9)));
  t.push_back(
      make_key("clip_mode", O, "norm (global L2 norm) | value", NAT_FIELD(clip_mode), one_of({"norm", "value"})));
  t.push_back(make_key("grad_accum_steps", O, "micro-batches per optimizer step", NAT_FIELD(grad_accum_steps),
                       between(1, 65536)));
  // ---- schedule ----
  t.push_back(make_key("sched", S, "cosine | step | const", NAT_FIELD(sched), one_of({"cosine", "step", "const"})));
  t.push_back(
      make_key("sched_epochwise", S, "step the schedule per epoch (false: per iteration)", NAT_FIELD(sched_epochwise)));
  KeyDef on_updates = make_key("sched_on_updates", S, "timm's name for !sched_epochwise", NAT_FIELD(sched_epochwise));
  on_updates.alias = true;
  on_updates.set = [](TrainConfig& c, const YAML::Node& n) {
    c.sched_epochwise = n.IsNull() ? defaults().sched_epochwise : !Codec<bool>::parse(n);
  };
  t.push_back(on_updates);
  t.push_back(make_key("lr", S, "peak learning rate", NAT_FIELD(lr), positive_at_most(1e3)));
  t.push_back(make_key("warmup_lr", S, "learning rate at the start of warmup", NAT_FIELD(warmup_lr), within(0, 1e3)));
  t.push_back(make_key("min_lr", S, "cosine floor, and the cooldown learning rate", NAT_FIELD(min_lr), within(0, 1e3)));
  t.push_back(
      make_key("epochs", S, "epochs of the schedule (cooldown comes on top)", NAT_FIELD(epochs), between(1, 1000000)));
  t.push_back(make_key("warmup_epochs", S, "linear warmup epochs", NAT_FIELD(warmup_epochs), between(0, 1000000)));
  t.push_back(make_key("cooldown_epochs", S, "epochs at min_lr after the schedule", NAT_FIELD(cooldown_epochs),
                       between(0, 1000000)));
  t.push_back(make_key("decay_epochs", S, "step schedule: epochs between decays", NAT_FIELD(decay_epochs),
                       positive_at_most(1e6)));
  t.push_back(
      make_key("decay_rate", S, "step schedule: factor per decay", NAT_FIELD(decay_rate), positive_at_most(1e3)));
  t.push_back(make_key("start_epoch", S, "override the epoch to start (or resume) at", NAT_FIELD(start_epoch),
                       between(0, 1000000)));
  // ---- EMA, precision, device, run ----
  t.push_back(make_key("model_ema", R, "keep an exponential moving average of the weights", NAT_FIELD(model_ema)));
  t.push_back(make_key("model_ema_decay", R, "EMA decay per optimizer step", NAT_FIELD(model_ema_decay), unit_open()));
  t.push_back(make_key("amp", R, "mixed precision on CUDA (ignored on the CPU)", NAT_FIELD(amp)));
  t.push_back(make_key("amp_dtype", R, "float16 (loss scaling) | bfloat16", NAT_FIELD(amp_dtype),
                       one_of({"float16", "bfloat16"})));
  t.push_back(make_key("device", R, "'' (cuda when present, else cpu) | cpu | cuda | cuda:N", NAT_FIELD(device),
                       [](const std::string& v) {
                         if (v.empty() || v == "cpu" || v == "cuda") return std::string();
                         if (v.rfind("cuda:", 0) == 0 && v.size() > 5 &&
                             std::all_of(v.begin() + 5, v.end(), [](char ch) { return std::isdigit(ch); }))
                           return std::string();
                         return "must be '', cpu, cuda or cuda:N, got '" + v + "'";
                       }));
  t.push_back(
      make_key("threads", R, "CPU threads for the ops (0: OpenMP's default)", NAT_FIELD(threads), between(0, 1024)));
  t.push_back(make_key("dist_backend", R, "auto (nccl on CUDA, mpi on the CPU) | mpi | nccl", NAT_FIELD(dist_backend),
                       one_of({"auto", "mpi", "nccl"})));
  t.push_back(make_key("dist_timeout", R, "seconds a collective may take before the job is aborted",
                       NAT_FIELD(dist_timeout), positive_at_most(7 * 24 * 3600)));
  t.push_back(make_key("dist_bucket_mb", R, "gradient all-reduce bucket size in MiB (the first is 1 MiB)",
                       NAT_FIELD(dist_bucket_mb), positive_at_most(4096)));
  t.push_back(make_key("output", R, "run directory parent ('' : ./output/train)", NAT_FIELD(output)));
  t.push_back(make_key("experiment", R, "run directory name ('' : <date>-<model>-<img_size>)", NAT_FIELD(experiment)));
  t.push_back(make_key("log_interval", R, "optimizer steps between log lines", NAT_FIELD(log_interval),
                       between(1, 1000000000)));
  t.push_back(make_key("checkpoint_hist", R, "checkpoint-<epoch> files kept (best by eval_metric)",
                       NAT_FIELD(checkpoint_hist), between(1, 10000)));
  t.push_back(make_key("eval_metric", R, "top1 | top5 | loss (chooses best.safetensors)", NAT_FIELD(eval_metric),
                       one_of({"top1", "top5", "loss"})));
  t.push_back(make_key("disable_eval", R, "skip evaluation after each epoch", NAT_FIELD(disable_eval)));
  t.push_back(make_key("resume", R, "checkpoint to continue from (exactly, on the CPU)", NAT_FIELD(resume)));
  t.push_back(
      make_key("no_resume_opt", R, "resume the weights only, not the optimizer state", NAT_FIELD(no_resume_opt)));
  t.push_back(make_key("max_steps", R, "stop cleanly after this many optimizer steps (0: no limit)",
                       NAT_FIELD(max_steps), between(0, int64_t{1} << 40)));
  t.push_back(make_key("progress", R, "auto | bar | lines | none", NAT_FIELD(progress),
                       one_of({"auto", "bar", "lines", "none"})));
  KeyDef data_alias = make_key("data", D, "timm's old name of data_dir", NAT_FIELD(data.data_dir));
  data_alias.alias = true;
  t.push_back(data_alias);
  return t;
}

#undef NAT_FIELD

}  // namespace

std::string number_str(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string yaml_number(double v) {
  std::string s = number_str(v);
  if (!std::isfinite(v)) return s;
  auto e = s.find('e');
  std::string mant = s.substr(0, e);
  if (mant.find('.') == std::string::npos) mant += ".0";
  return e == std::string::npos ? mant : mant + s.substr(e);
}

const std::vector<KeyDef>& key_table() {
  static const std::vector<KeyDef> t = build_table();
  return t;
}

const KeyDef* find_key(const std::string& name) {
  for (const auto& k : key_table())
    if (k.name == name) return &k;
  return nullptr;
}

}  // namespace nat::train::detail
