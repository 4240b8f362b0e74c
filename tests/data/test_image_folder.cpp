// ImageFolder listing: timm's natural order and split names, labels from leaf folders, recursion,
// the file-index cache (reuse and invalidation) and the errors for missing or empty splits.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "data/file_index.h"
#include "data/image_folder.h"
#include "support/expect_error.h"
#include "tests/data/fixtures.h"

namespace nat::data {
namespace {

using nat::testing::TempDir;
namespace fs = std::filesystem;

void touch(const std::string& path) { nat::testing::write_bytes(path, {0xFF, 0xD8, 0xFF}); }

TEST(ImageFolderOrder, NaturalKeyLikeTimm) {
  std::vector<std::string> v = {"img10.png", "img2.png", "Img1.png",  "img02.png", "a",
                                "a1",        "b",        "n01440764", "n01443537", "n015"};
  std::stable_sort(v.begin(), v.end(), natural_less);
  // Python: sorted(v, key=natural_key), also stable
  std::vector<std::string> want = {"a",         "a1",        "b",    "Img1.png",  "img2.png",
                                   "img02.png", "img10.png", "n015", "n01440764", "n01443537"};
  EXPECT_EQ(v, want);
  EXPECT_FALSE(natural_less("img2", "img02"));  // equal keys
  EXPECT_FALSE(natural_less("img02", "img2"));
  EXPECT_TRUE(natural_less("x9", "x10"));
  EXPECT_TRUE(natural_less("99999999999999999999998", "99999999999999999999999"));  // longer than int64
}

TEST(ImageFolderOrder, WnidsMapToTheStandardIndices) {
  TempDir d;
  for (const char* w : {"n01443537", "n01440764", "n15075141", "n01484850"})
    touch(d / (std::string("train/") + w + "/x.JPEG"));
  ImageFolderOptions o;
  o.cache_dir = "";
  ImageFolder f(d / "train", o);
  EXPECT_EQ(f.classes(), (std::vector<std::string>{"n01440764", "n01443537", "n01484850", "n15075141"}));
  EXPECT_EQ(f.sample(0).label, 0);
  EXPECT_EQ(f.sample(3).label, 3);
}

TEST(ImageFolder, ListsRecursivelyWithLeafLabels) {
  TempDir d;
  touch(d / "train/cat/a.jpg");
  touch(d / "train/cat/b.PNG");
  touch(d / "train/cat/notes.txt");   // not an image extension
  touch(d / "train/dog/sub/c.jpeg");  // label: leaf folder "sub"
  touch(d / "train/dog/d.JPG");
  ImageFolderOptions o;
  o.cache_dir = "";
  ImageFolder f(d / "train", o);
  EXPECT_EQ(f.classes(), (std::vector<std::string>{"cat", "dog", "sub"}));
  ASSERT_EQ(f.size(), 4);
  EXPECT_EQ(fs::path(f.sample(0).path).filename(), "a.jpg");
  EXPECT_EQ(f.sample(2).label, 1);  // dog/d.JPG sorts before dog/sub/c.jpeg
  EXPECT_EQ(f.sample(3).label, 2);
  EXPECT_TRUE(fs::path(f.sample(0).path).is_absolute());
}

TEST(ImageFolder, SplitNamesFollowTimm) {
  TempDir d;
  touch(d / "training/a/x.png");
  touch(d / "valid/a/x.png");
  EXPECT_EQ(fs::path(find_split_dir(d.path(), "train")).filename(), "training");
  EXPECT_EQ(fs::path(find_split_dir(d.path(), "validation")).filename(), "valid");
  EXPECT_EQ(fs::path(find_split_dir(d.path(), "val")).filename(), "valid");
  NAT_EXPECT_ERROR(find_split_dir(d.path(), "test"), "no 'test' split", "test");
  NAT_EXPECT_ERROR(find_split_dir(d / "nope", "train"), "does not exist", "nope");
  TempDir e;
  touch(e / "val/a/x.png");
  NAT_EXPECT_ERROR(find_split_dir(e.path(), "train"), "no 'train' split", "train, training");
}

TEST(ImageFolder, EmptyOrFlatSplitsAreClearErrors) {
  TempDir d;
  fs::create_directories(d / "train/a");
  NAT_EXPECT_ERROR(ImageFolder(d / "train", {.classes = {}, .cache_dir = ""}), "no images in", "0 image files");
  touch(d / "val/ILSVRC2012_val_00000001.JPEG");
  NAT_EXPECT_ERROR(ImageFolder(d / "val", {.classes = {}, .cache_dir = ""}), "no images", "no class folder",
                   "<split>/<class>/");
  NAT_EXPECT_ERROR(ImageFolder(d / "missing", {.classes = {}, .cache_dir = ""}), "does not exist");
}

// Issue 17: an empty class folder in train/ trained 9 classes under num_classes 10 with every later
// label shifted by one. Refused now, as torchvision's ImageFolder refuses it, in any split.
TEST(ImageFolder, EmptyClassFolderIsRefused) {
  TempDir d;
  touch(d / "train/a/1.png");
  fs::create_directories(d / "train/b");
  touch(d / "train/b/readme.txt");  // not an image
  touch(d / "train/c/2.png");
  touch(d / "train/d/nested/3.png");                       // images further down count for d
  fs::create_directories(d / "train/.ipynb_checkpoints");  // hidden: not a class
  NAT_EXPECT_ERROR(ImageFolder(d / "train", {.classes = {}, .cache_dir = ""}), "class folder 'b'", "holds no image",
                   "remove it or add images");
  fs::create_directories(d / "train/e");
  NAT_EXPECT_ERROR(ImageFolder(d / "train", {.classes = {}, .cache_dir = ""}), "'b'", "nor do 1 more");
  NAT_EXPECT_ERROR(ImageFolder(d / "train", {.classes = {"a", "b", "c", "nested"}, .cache_dir = ""}),
                   "class folder 'b'");
  fs::remove_all(d / "train/b");
  fs::remove_all(d / "train/e");
  ImageFolder f(d / "train", {.classes = {}, .cache_dir = ""});
  EXPECT_EQ(f.classes(), (std::vector<std::string>{"a", "c", "nested"}));
}

TEST(ImageFolder, FixedClassListSkipsUnknownFolders) {
  TempDir d;
  touch(d / "val/b/x.png");
  touch(d / "val/z/y.png");
  ImageFolder f(d / "val", {.classes = {"a", "b"}, .cache_dir = ""});
  ASSERT_EQ(f.size(), 1);
  EXPECT_EQ(f.sample(0).label, 1);
  EXPECT_EQ(f.num_classes(), 2);
}

TEST(ImageFolderCache, ReusedUntilAFolderChanges) {
  TempDir d, cache;
  touch(d / "train/a/1.png");
  touch(d / "train/b/2.png");
  ImageFolderOptions o;
  o.cache_dir = cache.path();
  ImageFolder first(d / "train", o);
  EXPECT_FALSE(first.listed_from_cache());
  ImageFolder second(d / "train", o);
  EXPECT_TRUE(second.listed_from_cache());
  EXPECT_EQ(second.size(), 2);
  EXPECT_EQ(second.sample(1).path, first.sample(1).path);

  // A new file changes its folder's mtime: the index is rebuilt. (Sleep so the mtime surely differs.)
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  touch(d / "train/b/3.png");
  ImageFolder third(d / "train", o);
  EXPECT_FALSE(third.listed_from_cache());
  EXPECT_EQ(third.size(), 3);
  ImageFolder fourth(d / "train", o);
  EXPECT_TRUE(fourth.listed_from_cache());

  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  fs::create_directories(d / "train/c");
  touch(d / "train/c/4.png");
  ImageFolder fifth(d / "train", o);
  EXPECT_FALSE(fifth.listed_from_cache());
  EXPECT_EQ(fifth.num_classes(), 3);
}

TEST(ImageFolderCache, TruncatedCacheFileIsIgnored) {
  TempDir d, cache;
  touch(d / "train/a/1.png");
  std::string root = fs::canonical(d / "train").string();
  FileIndex idx = list_image_tree(root);
  ASSERT_TRUE(save_file_index(cache.path(), root, idx));
  ASSERT_TRUE(load_file_index(cache.path(), root).has_value());
  for (auto& e : fs::directory_iterator(cache.path())) fs::resize_file(e.path(), fs::file_size(e.path()) - 4);
  EXPECT_FALSE(load_file_index(cache.path(), root).has_value());
}

TEST(ImageFolder, ClassMapFile) {
  TempDir d;
  nat::testing::write_bytes(d / "map.txt", {'b', '\n', '\n', 'a', '\n'});
  EXPECT_EQ(load_class_map(d / "map.txt"), (std::vector<std::string>{"b", "a"}));
  nat::testing::write_bytes(d / "dup.txt", {'a', '\n', 'a', '\n'});
  NAT_EXPECT_ERROR(load_class_map(d / "dup.txt"), "twice");
}

}  // namespace
}  // namespace nat::data
