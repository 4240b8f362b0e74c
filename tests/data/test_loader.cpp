// The threaded loader: identical batches whatever the thread count, exact resume from (epoch, batch),
// equal batch counts on every distributed rank, bad files replaced (train) or left out (eval), logged
// once and counted per epoch, 20 consecutive failures fatal, an unallocatable batch an error (not a
// crash), buffer recycling, the eval loader's partial batch, mixup_off_epoch.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>

#include "core/backend.h"
#include "data/loader.h"
#include "support/expect_error.h"
#include "tests/data/fixtures.h"

// BatchAllocationFailureIsAnErrorNotACrash needs a failing allocation to return null under ASan too, as it
// does without (ASan's default is to abort on an impossible size).
#if defined(__SANITIZE_ADDRESS__)
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }
#endif

namespace nat::data {
namespace {

#if NAT_WITH_OPENCV

using nat::testing::TempDir;

// 44 small JPEGs in 4 classes (a mix of sizes and aspect ratios), plus optional extra files.
std::string make_dataset(const TempDir& d, int n = 44) {
  for (int i = 0; i < n; ++i) {
    cv::Mat img = nat::testing::gradient_rgb(40 + 7 * (i % 5), 30 + 9 * (i % 3), 20 * i % 256);
    cv::circle(img, {10 + i % 20, 12}, 6, cv::Scalar(255 - 5 * i, 40, 90), cv::FILLED);
    nat::testing::write_bytes(d / ("train/class" + std::to_string(i % 4) + "/img" + std::to_string(i) + ".jpg"),
                              nat::testing::encode(img, ".jpg"));
  }
  return d / "train";
}

std::shared_ptr<const ImageFolder> open(const std::string& dir) {
  ImageFolderOptions o;
  o.cache_dir = "";
  return std::make_shared<const ImageFolder>(dir, o);
}

DataConfig small_config() {
  DataConfig c;
  c.img_size = 24;
  c.batch_size = 8;
  c.workers = 2;
  return c;
}

struct Epoch {
  std::vector<std::vector<float>> images, targets;
  std::vector<std::vector<int64_t>> labels, indices;
};

Epoch run_epoch(Loader& l, int64_t epoch, int64_t start = 0) {
  Epoch e;
  l.start_epoch(epoch, start);
  while (auto b = l.next()) {
    e.images.push_back(b->images.to_vector<float>());
    e.labels.push_back(b->labels.to_vector<int64_t>());
    e.indices.push_back(b->indices);
    if (b->targets.defined()) e.targets.push_back(b->targets.to_vector<float>());
  }
  return e;
}

TEST(Loader, SameBatchesWhateverTheThreadCount) {
  TempDir d;
  auto ds = open(make_dataset(d));
  DataConfig cfg = small_config();
  std::vector<Epoch> runs;
  for (int64_t workers : {0, 1, 3}) {
    LoaderOptions o = train_loader_options(cfg);
    o.workers = workers;
    o.prefetch = workers == 3 ? 2 : 3;
    Loader l(ds, cfg, o);
    EXPECT_EQ(l.batches_per_epoch(), 5);  // 44 // 8, drop_last
    runs.push_back(run_epoch(l, 0));
    Epoch second = run_epoch(l, 1);
    EXPECT_NE(second.indices, runs.back().indices);  // a new shuffle each epoch
    runs.back().images.insert(runs.back().images.end(), second.images.begin(), second.images.end());
  }
  for (size_t r = 1; r < runs.size(); ++r) {
    EXPECT_EQ(runs[r].indices, runs[0].indices) << "run " << r;
    EXPECT_EQ(runs[r].labels, runs[0].labels) << "run " << r;
    EXPECT_EQ(runs[r].targets, runs[0].targets) << "run " << r;
    ASSERT_EQ(runs[r].images.size(), runs[0].images.size());
    for (size_t b = 0; b < runs[0].images.size(); ++b)
      EXPECT_TRUE(runs[r].images[b] == runs[0].images[b]) << "run " << r << " batch " << b << " differs";
  }
  // Sanity: batches are soft-targeted, normalised images of the right shape.
  ASSERT_FALSE(runs[0].targets.empty());
  EXPECT_EQ(runs[0].targets[0].size(), 8u * 4u);
  EXPECT_EQ(runs[0].images[0].size(), 8u * 3u * 24u * 24u);
}

TEST(Loader, ResumesExactlyFromAnEpochAndBatch) {
  TempDir d;
  auto ds = open(make_dataset(d));
  DataConfig cfg = small_config();
  Loader a(ds, cfg, train_loader_options(cfg));
  Epoch full = run_epoch(a, 3);
  Loader b(ds, cfg, train_loader_options(cfg));
  Epoch tail = run_epoch(b, 3, 2);
  ASSERT_EQ(tail.images.size(), full.images.size() - 2);
  for (size_t i = 0; i < tail.images.size(); ++i) {
    EXPECT_TRUE(tail.images[i] == full.images[i + 2]) << "batch " << i + 2;
    EXPECT_EQ(tail.targets[i], full.targets[i + 2]);
  }
  // Restarting in the middle of an epoch drops the work in flight and starts clean.
  a.start_epoch(3);
  a.next();
  Epoch again = run_epoch(a, 3);
  EXPECT_EQ(again.indices, full.indices);
  EXPECT_TRUE(again.images == full.images);
  NAT_EXPECT_ERROR(a.start_epoch(0, 99), "start_batch 99");
}

TEST(Loader, EveryRankGetsTheSameNumberOfBatches) {
  TempDir d;
  auto ds = open(make_dataset(d, 43));
  DataConfig cfg = small_config();
  std::multiset<int64_t> seen;
  for (int64_t world : {3}) {
    for (int64_t rank = 0; rank < world; ++rank) {
      LoaderOptions o = eval_loader_options(cfg, rank, world);
      o.batch_size = 4;
      Loader l(ds, cfg, o);
      EXPECT_EQ(l.batches_per_epoch(), 4);  // ceil(ceil(43 / 3) / 4)
      l.start_epoch(0);
      int64_t batches = 0, padding = 0;
      while (auto b = l.next()) {
        ++batches;
        EXPECT_FALSE(b->targets.defined());  // eval: no mixup
        for (size_t i = 0; i < b->indices.size(); ++i) {
          seen.insert(b->indices[i]);
          padding += b->padding[i];
        }
      }
      EXPECT_EQ(batches, 4);
      // 45 slots for 43 images: positions 43 and 44 (ranks 1 and 2) repeat the head of the order.
      EXPECT_EQ(padding, rank == 0 ? 0 : 1);
    }
  }
  for (int64_t i = 0; i < 43; ++i) EXPECT_GE(seen.count(i), 1u) << "image " << i << " never loaded";
  EXPECT_EQ(seen.size(), 45u);
}

TEST(Loader, EvalLoaderKeepsThePartialLastBatch) {
  TempDir d;
  auto ds = open(make_dataset(d, 10));
  DataConfig cfg = small_config();
  LoaderOptions o = eval_loader_options(cfg);
  o.batch_size = 4;
  Loader l(ds, cfg, o);
  l.start_epoch(0);
  std::vector<int64_t> sizes, order;
  while (auto b = l.next()) {
    sizes.push_back(b->size());
    EXPECT_EQ(b->images.size(0), b->size());
    EXPECT_EQ(b->labels.size(0), b->size());
    order.insert(order.end(), b->indices.begin(), b->indices.end());
  }
  EXPECT_EQ(sizes, (std::vector<int64_t>{4, 4, 2}));
  EXPECT_EQ(order, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));  // no shuffle
}

TEST(Loader, BadFilesAreReplacedLoggedOnceAndCounted) {
  TempDir d;
  std::string dir = make_dataset(d, 24);
  std::vector<uint8_t> jpg = nat::testing::encode(nat::testing::gradient_rgb(50, 40), ".jpg");
  nat::testing::write_bytes(
      d / "train/class0/img10a_truncated.jpg",
      std::vector<uint8_t>(jpg.begin(), jpg.begin() + static_cast<std::ptrdiff_t>(jpg.size() / 2)));
  nat::testing::write_bytes(d / "train/class1/img10b_text.jpg", {'n', 'o', 't', ' ', 'a', 'n', ' ', 'i', 'm'});
  auto ds = open(dir);
  ASSERT_EQ(ds->size(), 26);
  std::set<int64_t> bad;
  for (int64_t i = 0; i < ds->size(); ++i)
    if (std::filesystem::path(ds->sample(i).path).filename().string().find('_') != std::string::npos) bad.insert(i);
  ASSERT_EQ(bad.size(), 2u);

  DataConfig cfg = small_config();
  LoaderOptions o = eval_loader_options(cfg);  // no shuffle, no mixup: but replacing, as training does
  o.replace_bad_files = true;
  o.batch_size = 2;
  Loader l(ds, cfg, o);
  ::testing::internal::CaptureStderr();
  for (int64_t e = 0; e < 2; ++e) {
    l.start_epoch(e);
    while (auto b = l.next())
      for (int64_t idx : b->indices) EXPECT_EQ(bad.count(idx), 0u) << "bad file " << idx << " in a batch";
  }
  std::string log = ::testing::internal::GetCapturedStderr();
  for (int64_t i : bad) {
    const std::string& p = ds->sample(i).path;
    size_t first = log.find(p);
    EXPECT_NE(first, std::string::npos) << p << " not logged";
    EXPECT_EQ(log.find(p, first + 1), std::string::npos) << p << " logged twice";
  }
  EXPECT_NE(log.find("truncated"), std::string::npos);
  LoaderStats s = l.stats();
  EXPECT_EQ(s.failed_files, 2);
  EXPECT_EQ(s.replacements, 4);  // each bad file once per epoch
  EXPECT_EQ(s.samples, 2 * 26);  // every slot still got an image
  EXPECT_EQ(s.skipped_samples, 0);
  EXPECT_EQ(s.epoch_failed_files, 2);  // the last epoch's: both met again (known bad, not decoded again)
  EXPECT_EQ(s.epoch_replacements, 2);
}

// Issue 17: bad validation images were "replaced by the next image", so val counted some samples twice.
// The eval loader leaves them out (the batch is smaller; a batch of only bad files is empty) and counts
// them, per epoch and in total; images over max_image_pixels count as bad files too.
TEST(Loader, EvalLeavesBadFilesOutAndCountsThem) {
  TempDir d;
  std::string dir = make_dataset(d, 10);
  nat::testing::write_bytes(d / "train/class0/img3a_text.jpg", {'n', 'o', 'p', 'e'});
  nat::testing::write_bytes(d / "train/class1/img3b_big.png",
                            nat::testing::encode(nat::testing::gradient_rgb(120, 90), ".png"));  // 10800 pixels
  nat::testing::write_bytes(
      d / "train/class2/img9a_bomb.jpg",
      nat::testing::with_jpeg_size(nat::testing::encode(nat::testing::gradient_rgb(16, 16), ".jpg"), 65500, 65500));
  auto ds = open(dir);
  ASSERT_EQ(ds->size(), 13);
  std::set<int64_t> bad;
  for (int64_t i = 0; i < ds->size(); ++i)
    if (std::filesystem::path(ds->sample(i).path).filename().string().find('_') != std::string::npos) bad.insert(i);
  ASSERT_EQ(bad.size(), 3u);
  DataConfig cfg = small_config();
  cfg.max_image_pixels = 5000;
  for (int64_t workers : {0, 2}) {
    LoaderOptions o = eval_loader_options(cfg);
    EXPECT_FALSE(o.replace_bad_files);
    o.batch_size = 2;
    o.workers = workers;
    o.log_failures = workers == 0;
    Loader l(ds, cfg, o);
    for (int64_t e = 0; e < 2; ++e) {
      ::testing::internal::CaptureStderr();
      l.start_epoch(e);
      std::vector<int64_t> seen, labels;
      int64_t batches = 0;
      while (auto b = l.next()) {
        ++batches;
        EXPECT_EQ(b->images.size(0), b->size());
        EXPECT_EQ(b->labels.size(0), b->size());
        seen.insert(seen.end(), b->indices.begin(), b->indices.end());
        std::vector<int64_t> lb = b->labels.to_vector<int64_t>();
        labels.insert(labels.end(), lb.begin(), lb.end());
      }
      std::string log = ::testing::internal::GetCapturedStderr();
      EXPECT_EQ(batches, 7);  // 13 files in batches of 2: the batch count does not change
      std::vector<int64_t> want;
      for (int64_t i = 0; i < ds->size(); ++i)
        if (!bad.count(i)) want.push_back(i);
      EXPECT_EQ(seen, want) << "each good file exactly once, in order";
      for (size_t k = 0; k < seen.size() && k < labels.size(); ++k)
        EXPECT_EQ(labels[k], ds->sample(seen[k]).label);  // labels moved along with their images
      if (workers == 0 && e == 0) {
        EXPECT_NE(log.find("img9a_bomb.jpg: JPEG image of 65500 x 65500"), std::string::npos) << log;
        EXPECT_NE(log.find("left out of the evaluation"), std::string::npos) << log;
      }
      LoaderStats s = l.stats();
      EXPECT_EQ(s.epoch_failed_files, 3);
      EXPECT_EQ(s.epoch_skipped_samples, 3);
      EXPECT_EQ(s.skipped_samples, 3 * (e + 1));
      EXPECT_EQ(s.failed_files, 3);
      EXPECT_EQ(s.replacements, 0);
      EXPECT_EQ(s.samples, 10 * (e + 1));
    }
  }
}

// Issue 17, bug 3: a batch that cannot be allocated in a worker thread (outside the worker's try) reached
// std::terminate (exit 134). Now next() throws a one-line nat::Error naming the batch and its size, for
// any number of workers. 2^20 x 3 x 4096 x 4096 floats is 211 TB: more than any address space, so the
// allocation fails for real (without a memory limit, and under ASan thanks to allocator_may_return_null).
TEST(Loader, BatchAllocationFailureIsAnErrorNotACrash) {
  TempDir d;
  auto ds = open(make_dataset(d, 4));
  DataConfig cfg = small_config();
  cfg.img_size = 4096;
  for (int64_t workers : {0, 1, 3}) {
    LoaderOptions o = eval_loader_options(cfg);
    o.batch_size = int64_t{1} << 20;
    o.workers = workers;
    o.pin_memory = false;
    Loader l(ds, cfg, o);
    l.start_epoch(0);
    std::string msg = nat::testing::error_message([&] { l.next(); });
    EXPECT_TRUE(nat::testing::message_contains(
        msg, {"[loader] out of memory allocating a batch of 1048576 x 3 x 4096 x 4096 floats", "TiB", "batch_size"}));
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    NAT_EXPECT_ERROR(l.next(), "out of memory allocating a batch");  // stays failed until restarted
  }
}

TEST(Loader, TwentyConsecutiveFailuresStopWithAClearError) {
  TempDir d;
  for (int i = 0; i < 21; ++i) nat::testing::write_bytes(d / ("train/a/bad" + std::to_string(10 + i) + ".jpg"), {'x'});
  nat::testing::write_bytes(d / "train/b/good.jpg", nat::testing::encode(nat::testing::gradient_rgb(30, 30), ".jpg"));
  auto ds = open(d / "train");
  DataConfig cfg = small_config();
  LoaderOptions o = eval_loader_options(cfg);
  o.replace_bad_files = true;
  o.batch_size = 2;
  o.log_failures = false;
  Loader l(ds, cfg, o);
  l.start_epoch(0);
  NAT_EXPECT_ERROR(l.next(), "20 consecutive images failed", "bad10.jpg", "nat data check");
  NAT_EXPECT_ERROR(l.next(), "20 consecutive");  // stays failed until restarted
}

TEST(Loader, BuffersArePinnedOnlyWithAGpuAndAreRecycled) {
  TempDir d;
  auto ds = open(make_dataset(d));
  DataConfig cfg = small_config();
  LoaderOptions o = train_loader_options(cfg);
  o.workers = 2;
  o.prefetch = 2;
  Loader l(ds, cfg, o);
  EXPECT_EQ(l.pinned(), cuda_available());
  std::set<const void*> buffers;
  for (int e = 0; e < 4; ++e) {
    l.start_epoch(e);
    while (auto b = l.next()) {
      EXPECT_EQ(b->images.is_pinned(), cuda_available());
      buffers.insert(b->images.data_ptr());
    }
  }
  EXPECT_LE(buffers.size(), 4u);  // 20 batches from a pool of at most prefetch + 2 buffers
  // A batch that is still held is never overwritten.
  l.start_epoch(0);
  auto first = l.next();
  std::vector<float> copy = first->images.to_vector<float>();
  for (int i = 0; i < 4 && l.next(); ++i) {
  }
  EXPECT_TRUE(first->images.to_vector<float>() == copy);
}

TEST(Loader, MixupStopsAtMixupOffEpoch) {
  TempDir d;
  auto ds = open(make_dataset(d));
  DataConfig cfg = small_config();
  cfg.mixup_off_epoch = 1;
  Loader l(ds, cfg, train_loader_options(cfg));
  l.start_epoch(0);
  auto b0 = l.next();
  EXPECT_NE(b0->mix.lam[0], 1.0f);
  l.start_epoch(1);
  auto b1 = l.next();
  for (float lam : b1->mix.lam) EXPECT_EQ(lam, 1.0f);
  std::vector<float> t = b1->targets.to_vector<float>();
  EXPECT_NEAR(t[static_cast<size_t>(b1->labels.to_vector<int64_t>()[0])], 0.9f + 0.1f / 4, 1e-6);
}

TEST(Loader, RandomErasingComesAfterMixup) {
  // NAT's runs erased the normalised batch after mixing: an erased box is never blended. With constant
  // (zero) erasing and mixup on every batch, each erased box is therefore still exactly zero.
  TempDir d;
  auto ds = open(make_dataset(d));
  DataConfig cfg = small_config();
  cfg.reprob = 1.0;
  cfg.remode = "const";
  cfg.cutmix = 0.0;
  Loader l(ds, cfg, train_loader_options(cfg));
  l.start_epoch(0);
  auto b = l.next();
  ASSERT_TRUE(b);
  ASSERT_NE(b->mix.lam[0], 1.0f);
  std::vector<float> x = b->images.to_vector<float>();
  const size_t per = 3 * 24 * 24;
  int erased = 0;
  for (size_t i = 0; i < 8; ++i) erased += std::count(x.begin() + i * per, x.begin() + (i + 1) * per, 0.0f) >= 30;
  EXPECT_GE(erased, 6);
  EXPECT_EQ(b->positions.size(), 8u);
}

TEST(Loader, MisuseIsAClearError) {
  TempDir d;
  auto ds = open(make_dataset(d, 8));
  DataConfig cfg = small_config();
  Loader l(ds, cfg, train_loader_options(cfg));
  NAT_EXPECT_ERROR(l.next(), "start_epoch");
  cfg.batch_size = 16;
  NAT_EXPECT_ERROR(Loader(ds, cfg, train_loader_options(cfg)), "make no batch of 16");
  DataConfig odd = small_config();
  LoaderOptions o = train_loader_options(odd);
  o.batch_size = 3;
  NAT_EXPECT_ERROR(Loader(ds, odd, o), "even batch size");
}

#else
TEST(Loader, NeedsOpenCV) { GTEST_SKIP() << "built without OpenCV"; }
#endif

}  // namespace
}  // namespace nat::data
