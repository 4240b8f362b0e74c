// Stand-ins for the OpenCV parts of nat_data in a build without OpenCV (e.g. the GPU-check build):
// everything that decodes or draws images throws, naming the missing package. The dataset listing,
// samplers, mixup and loader scheduling stay available.
#include "core/error.h"
#include "data/check.h"
#include "data/digits.h"
#include "data/pipeline.h"
#include "data/preview.h"
#include "data/synthetic.h"

namespace nat::data {

namespace {
[[noreturn]] void no_opencv(const char* what) {
  NAT_THROW("[data] ", what,
            " needs OpenCV, and this nat was built without it "
            "(Debian: apt-get install -y libopencv-dev, then reconfigure)");
}
}  // namespace

struct SamplePipeline::Impl {};
SamplePipeline::SamplePipeline(const DataConfig&, bool) { no_opencv("image decoding"); }
SamplePipeline::~SamplePipeline() = default;
void SamplePipeline::run(const uint8_t*, size_t, SampleRng&, float*, SampleTiming*, bool) const {
  no_opencv("image decoding");
}
void SamplePipeline::erase(float*, SampleRng&) const { no_opencv("image decoding"); }
bool SamplePipeline::erases() const { return false; }
std::string SamplePipeline::describe() const { return ""; }
uint8_t SamplePipeline::denormalize(int, float) const { return 0; }

CheckReport check_tree(const std::string&, const CheckOptions&) { no_opencv("nat data check"); }
std::string find_digits_sheet(const std::string&) { no_opencv("the digits dataset"); }
DigitsSummary build_digits(const std::string&, const std::string&, bool) { no_opencv("the digits dataset"); }
void write_preview(const Batch&, const SamplePipeline&, const std::vector<std::string>&, const std::string&, int) {
  no_opencv("nat data preview");
}
std::vector<uint8_t> synthetic_jpeg(uint64_t, int64_t, int, int, int) { no_opencv("JPEG encoding"); }
int64_t write_synthetic_image_folder(const std::string&, int64_t, int64_t, int, int, uint64_t, int) {
  no_opencv("JPEG encoding");
}

}  // namespace nat::data
