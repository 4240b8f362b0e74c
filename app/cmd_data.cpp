// `nat data <check|digits|preview>`: dataset tools.
//   check DIR            decode every image of a tree; stdout lists the bad files (one path per line),
//                        stderr has progress and the summary; exit 1 when any file is bad
//   digits --out DIR     the digits ImageFolder (train/val PNGs) from opencv-doc's digit sheet
//   preview --config CFG --out grid.png   one batch of augmented training samples with their labels
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "app/args.h"
#include "app/commands.h"
#include "core/backend.h"
#include "core/error.h"
#include "data/check.h"
#include "data/config_yaml.h"
#include "data/digits.h"
#include "data/image_folder.h"
#include "data/loader.h"
#include "data/preview.h"

namespace nat::app {

namespace {

const char* kHelp =
    "usage: nat data check DIR [--workers N] [--all] [--max_image_pixels N]\n"
    "       nat data digits --out DIR [--sheet PATH] [--force]\n"
    "       nat data preview --config CFG --out grid.png [--data DIR] [--n 16] [--epoch 0] [--columns C]\n\n"
    "  check    Reads and fully decodes every .png/.jpg/.jpeg under DIR (--all: every file), with N threads\n"
    "           (default: all cores). Prints each file that cannot be decoded on its own line on stdout, and\n"
    "           a summary, including the odd files that do decode (format differing from the extension,\n"
    "           CMYK JPEGs, grayscale, alpha, 16-bit), on stderr. Exits 1 when a file is bad. Images whose\n"
    "           header promises more than --max_image_pixels (default 89478485, PIL's limit and the config\n"
    "           key's default; 0: no limit) are bad without being decoded, as the loader skips them.\n"
    "  digits   Cuts the handwritten-digit sheet of Debian's opencv-doc package\n"
    "           (/usr/share/doc/opencv-doc/examples/data/digits.png; --sheet for another copy) into\n"
    "           DIR/train/<0-9>/*.png (450 per class) and DIR/val/<0-9>/*.png (50 per class, every 10th\n"
    "           cell). --force replaces existing train/ and val/ folders.\n"
    "  preview  Reads the data keys of a timm-style YAML config (other keys are ignored), loads the first\n"
    "           batch of size --n (default 16) of training epoch --epoch (default 0) from the train split of\n"
    "           data_dir (or --data DIR) through the full recipe, and writes it as a PNG grid captioned with\n"
    "           the (mixed) labels.\n";

int data_check(const Args& args) {
  NAT_CHECK(args.positional().size() == 2, "usage: nat data check DIR (see nat data --help)");
  const std::string dir = args.positional()[1];
  data::CheckOptions opt;
  opt.workers = args.get_int("workers", 0, 0, 1024);
  opt.all_files = args.flag("all");
  opt.max_image_pixels = args.get_int("max_image_pixels", data::kDefaultMaxImagePixels, 0, INT64_MAX);
  opt.on_bad = [](const std::string& path, const std::string&) {
    std::printf("%s\n", path.c_str());
    std::fflush(stdout);
  };
  if (isatty(fileno(stderr)))
    opt.on_progress = [](int64_t done, int64_t total) {
      std::fprintf(stderr, "\rnat data check: %lld / %lld files", static_cast<long long>(done),
                   static_cast<long long>(total));
    };
  data::CheckReport r = data::check_tree(dir, opt);
  if (opt.on_progress && r.files >= 1000) std::fprintf(stderr, "\n");
  std::fprintf(stderr, "nat data check: %lld files (%.1f MiB) in %.1f s: %zu undecodable\n",
               static_cast<long long>(r.files), static_cast<double>(r.bytes) / (1 << 20), r.seconds, r.bad.size());
  for (size_t i = 0; i < r.bad.size() && i < 20; ++i)
    std::fprintf(stderr, "  %s: %s\n", r.bad[i].first.c_str(), r.bad[i].second.c_str());
  if (r.bad.size() > 20) std::fprintf(stderr, "  ... and %zu more\n", r.bad.size() - 20);
  std::fprintf(stderr,
               "decodable but odd: %lld with a format other than the extension says, %lld CMYK JPEG, %lld grayscale, "
               "%lld with alpha, %lld 16-bit, %lld neither JPEG nor PNG\n",
               static_cast<long long>(r.format_differs_from_extension), static_cast<long long>(r.cmyk_jpeg),
               static_cast<long long>(r.grayscale), static_cast<long long>(r.with_alpha),
               static_cast<long long>(r.sixteen_bit), static_cast<long long>(r.other_format));
  if (r.files == 0) std::fprintf(stderr, "warning: no image files under %s\n", dir.c_str());
  return r.bad.empty() ? 0 : 1;
}

int data_digits(const Args& args) {
  const std::string out = args.required("out");
  data::DigitsSummary s = data::build_digits(out, args.get("sheet"), args.flag("force"));
  std::printf(
      "nat data digits: wrote %lld train and %lld val images (10 classes, 20x20 grayscale PNG) to %s\n"
      "  from %s\n",
      static_cast<long long>(s.train), static_cast<long long>(s.val), out.c_str(), s.sheet.c_str());
  return 0;
}

int data_preview(const Args& args) {
  data::DataConfig cfg = data::load_data_config_yaml(args.required("config"));
  if (args.has("data")) cfg.data_dir = args.get("data");
  const std::string out = args.required("out");
  const int64_t n = args.get_int("n", 16, 1, 1024);
  cfg.batch_size = n;
  cfg.workers = std::min<int64_t>(cfg.workers, std::max(1u, std::thread::hardware_concurrency()));
  cfg.validate();

  std::printf("data configuration (%s):\n", args.get("config").c_str());
  for (const auto& [k, v] : cfg.rows()) std::printf("  %-22s %s\n", k.c_str(), v.c_str());
  auto ds = std::make_shared<const data::ImageFolder>(data::find_split_dir(cfg.data_dir, cfg.train_split));
  data::LoaderOptions lo = data::train_loader_options(cfg);
  data::Loader loader(ds, cfg, lo);
  std::printf("train split: %s (%lld images, %lld classes%s)\ntransforms:\n", ds->root().c_str(),
              static_cast<long long>(ds->size()), static_cast<long long>(ds->num_classes()),
              ds->listed_from_cache() ? ", listing from cache" : "");
  std::printf("%s", loader.pipeline().describe().c_str());
  if (cfg.mixup_active())
    std::printf("Mixup(mixup=%g, cutmix=%g, prob=%g, switch_prob=%g, mode=%s, smoothing=%g)\n", cfg.mixup, cfg.cutmix,
                cfg.mixup_prob, cfg.mixup_switch_prob, cfg.mixup_mode.c_str(), cfg.smoothing);
  loader.start_epoch(args.get_int("epoch", 0, 0, 1000000));
  std::optional<data::Batch> b = loader.next();
  NAT_CHECK(b.has_value(), "[preview] the first epoch has no batch");
  data::write_preview(*b, loader.pipeline(), ds->classes(), out, static_cast<int>(args.get_int("columns", 0, 0, 256)));
  data::LoaderStats st = loader.stats();
  std::printf("wrote %s: %lld samples of epoch %lld, batch 0", out.c_str(), static_cast<long long>(b->size()),
              static_cast<long long>(b->epoch));
  if (st.failed_files) std::printf(" (%lld undecodable files replaced)", static_cast<long long>(st.failed_files));
  std::printf("\n");
  return 0;
}

}  // namespace

int cmd_data(const std::vector<std::string>& argv) {
  Args args("data", argv, {"workers", "out", "sheet", "config", "data", "n", "epoch", "columns", "max_image_pixels"},
            {"all", "force"});
  if (args.help() || args.positional().empty()) {
    std::printf("%s", kHelp);
    return args.help() ? 0 : 1;
  }
  const std::string& what = args.positional()[0];
  if (what == "check") return data_check(args);
  NAT_CHECK(args.positional().size() == 1, "unexpected argument '", args.positional().back(),
            "' (see nat data --help)");
  if (what == "digits") return data_digits(args);
  if (what == "preview") return data_preview(args);
  NAT_THROW("unknown data command '", what, "' (available: check, digits, preview)");
}

}  // namespace nat::app
