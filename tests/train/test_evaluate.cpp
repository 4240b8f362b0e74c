// evaluate() on a tiny NAT: validation files that cannot be decoded are left out and counted (issue 17:
// they were "replaced by the next image", so some samples were scored twice), and a split whose every
// file fails is an error rather than a 0 % score.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/rng.h"
#include "data/synthetic.h"
#include "support/expect_error.h"
#include "tests/data/fixtures.h"
#include "train/evaluate.h"

namespace nat::train {
namespace {

namespace fs = std::filesystem;

#if NAT_WITH_OPENCV

EvalResult eval_split(nn::NAT& model, const std::string& dir) {
  data::DataConfig cfg;
  cfg.img_size = 16;
  cfg.batch_size = 4;
  cfg.workers = 1;
  auto ds = std::make_shared<const data::ImageFolder>(dir, data::ImageFolderOptions{.classes = {}, .cache_dir = ""});
  data::LoaderOptions o = data::eval_loader_options(cfg);
  o.log_failures = false;
  data::Loader loader(ds, cfg, o);
  return evaluate(model, loader, Device::cpu());
}

TEST(Evaluate, BadValidationFilesAreSkippedAndCountedNotReplaced) {
  nat::testing::TempDir d;
  data::write_synthetic_image_folder(d / "val", 10, 2, 40, 32, /*seed=*/4, 85);
  nn::NatConfig mc;
  mc.embed_dim = 8;
  mc.depths = {1, 1};
  mc.num_heads = {1, 2};
  mc.kernel_size = 3;
  mc.mlp_ratio = 2.0;
  mc.drop_path_rate = 0.0;
  mc.num_classes = 2;
  Generator g(7);
  auto model = nn::create_nat(mc, g);

  const EvalResult clean = eval_split(*model, d / "val");
  EXPECT_EQ(clean.samples, 10);
  EXPECT_EQ(clean.skipped, 0);

  // Two bad files, sorted among the good ones: one that is no image, one truncated.
  nat::testing::write_bytes(d / "val/c0/img_2a.JPEG", {'n', 'o', 'p', 'e'});
  std::vector<uint8_t> jpg = data::synthetic_jpeg(4, 99, 40, 32);
  jpg.resize(jpg.size() / 2);
  nat::testing::write_bytes(d / "val/c1/img_5a.JPEG", jpg);
  const EvalResult r = eval_split(*model, d / "val");
  EXPECT_EQ(r.samples, 10);
  EXPECT_EQ(r.skipped, 2);
  // The same samples scored, each once: the metrics of the clean split.
  EXPECT_NEAR(r.loss, clean.loss, 1e-6 * std::abs(clean.loss));
  EXPECT_DOUBLE_EQ(r.top1, clean.top1);
  EXPECT_DOUBLE_EQ(r.top5, clean.top5);

  nat::testing::TempDir bad;
  nat::testing::write_bytes(bad / "val/a/x.jpg", {'x'});
  nat::testing::write_bytes(bad / "val/b/y.jpg", {'y'});
  NAT_EXPECT_ERROR(eval_split(*model, bad / "val"), "[evaluate] all 2 images", "failed to load", "nat data check");
}

#else
TEST(Evaluate, NeedsOpenCV) { GTEST_SKIP() << "built without OpenCV: no images to evaluate"; }
#endif

}  // namespace
}  // namespace nat::train
