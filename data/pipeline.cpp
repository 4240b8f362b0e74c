// The per-sample recipe (see pipeline.h). The order of random draws is fixed: crop, interpolation,
// hflip, vflip, RandAugment (or colour jitter), erasing, so a sample is a pure function of its stream.
#include "data/pipeline.h"

#include <algorithm>
#include <opencv2/core.hpp>
#include <optional>
#include <sstream>

#include "data/cpu_time.h"
#include "data/decode.h"
#include "data/rand_augment.h"
#include "data/resize.h"
#include "data/transforms.h"

namespace nat::data {

namespace {

Interp parse_interp(const std::string& s) { return s == "bilinear" ? Interp::bilinear : Interp::bicubic; }

Rgb mean_fill(const std::array<double, 3>& mean) {
  Rgb f;
  for (int c = 0; c < 3; ++c) f[c] = static_cast<uint8_t>(std::min(255.0, std::nearbyint(255.0 * mean[c])));
  return f;
}

}  // namespace

struct SamplePipeline::Impl {
  DataConfig cfg;
  Normalizer norm;
  std::optional<RandAugment> ra;
  std::optional<Interp> train_interp;  // nullopt: random per sample
  EraseSpec erase;
  Impl(const DataConfig& c) : cfg(c), norm(c.mean, c.std) {}
};

SamplePipeline::SamplePipeline(const DataConfig& config, bool train)
    : impl_(std::make_unique<Impl>(config)), size_(config.img_size), train_(train) {
  config.validate();
  // The loader runs one sample per thread; OpenCV's own thread pool (warpAffine, resize) would only
  // oversubscribe the cores and blur the per-core accounting. A process-wide setting, set once.
  static const bool opencv_threads_off = [] {
    cv::setNumThreads(0);
    return true;
  }();
  (void)opencv_threads_off;
  Impl& m = *impl_;
  if (config.train_interpolation != "random") m.train_interp = parse_interp(config.train_interpolation);
  RandAugmentSpec spec = parse_rand_augment(config.aa);
  if (spec.enabled) m.ra.emplace(spec, mean_fill(config.mean), m.train_interp);
  m.erase.prob = config.reprob;
  m.erase.mode = config.remode;
  m.erase.max_count = static_cast<int>(config.recount);
}

SamplePipeline::~SamplePipeline() = default;

uint8_t SamplePipeline::denormalize(int channel, float value) const { return impl_->norm.denormalize(channel, value); }

bool SamplePipeline::erases() const { return train_ && !impl_->cfg.no_aug && impl_->cfg.reprob > 0; }

void SamplePipeline::erase(float* chw, SampleRng& rng) const {
  if (erases()) random_erase(chw, 3, static_cast<int>(size_), static_cast<int>(size_), impl_->erase, rng);
}

void SamplePipeline::run(const uint8_t* data, size_t n, SampleRng& rng, float* out, SampleTiming* timing,
                         bool erase) const {
  const Impl& m = *impl_;
  const DataConfig& cfg = m.cfg;
  const int S = static_cast<int>(size_);
  const double t0 = timing ? thread_cpu_seconds() : 0.0;
  double decode_s = 0;

  // The geometry needs the size before decoding: from the header, which also refuses unknown formats,
  // corrupt headers and images over max_image_pixels before anything is allocated.
  ImageInfo info = probe_image(data, n);
  if (!info.has_size()) decode_rgb_region(data, n, 1, cv::Rect(), cfg.max_image_pixels);  // throws, saying why
  check_image_size(info, cfg.max_image_pixels);
  const int W = info.width, H = info.height;

  // Geometry in source pixels, then the interpolation and flips.
  Box box;
  Interp interp;
  bool hflip = false, vflip = false;
  const bool eval_geometry = !train_ || cfg.no_aug;
  if (eval_geometry) {
    box = eval_box(W, H, S, train_ ? 1.0 : cfg.crop_pct);
    // timm's no-aug train transform falls back to bilinear for "random"
    interp = train_ ? (m.train_interp ? *m.train_interp : Interp::bilinear) : parse_interp(cfg.interpolation);
  } else {
    CropBox c = random_resized_crop_box(W, H, cfg.scale, cfg.ratio, rng);
    box = {static_cast<double>(c.x), static_cast<double>(c.y), static_cast<double>(c.w), static_cast<double>(c.h)};
    interp = m.train_interp ? *m.train_interp : (rng.uniform() < 0.5 ? Interp::bilinear : Interp::bicubic);
    if (cfg.hflip > 0) hflip = rng.uniform() < cfg.hflip;
    if (cfg.vflip > 0) vflip = rng.uniform() < cfg.vflip;
  }

  // JPEG: decode at the largest reduction that still shrinks, and only the pixels the resize reads.
  cv::Rect want;
  int reduce = 1;
  if (info.format == ImageFormat::jpeg) {
    reduce = jpeg_reduction(box.w, box.h, S, S);
    const int rw = reduced_size(W, reduce), rh = reduced_size(H, reduce);
    const double fx = static_cast<double>(rw) / W, fy = static_cast<double>(rh) / H;
    want = source_region(rw, rh, {box.x * fx, box.y * fy, box.w * fx, box.h * fy}, S, S, interp);
  }
  const DecodedRegion img = decode_rgb_region(data, n, reduce, want, cfg.max_image_pixels);
  // Map the box to the decoded pixels: the (reduced) image's scale, then the region's origin.
  const double sx = static_cast<double>(img.width) / W, sy = static_cast<double>(img.height) / H;
  box = {box.x * sx - img.x0, box.y * sy - img.y0, box.w * sx, box.h * sy};
  if (timing) decode_s = thread_cpu_seconds() - t0;

  thread_local cv::Mat small;
  try {
    resize_box(img.rgb, small, S, S, box, interp, hflip);
    if (vflip) cv::flip(small, small, 0);
    if (!eval_geometry) {
      if (m.ra)
        (*m.ra)(small, rng);
      else if (cfg.color_jitter > 0)
        color_jitter(small, cfg.color_jitter, rng);
    }
  } catch (const cv::Exception& e) {  // callers see nat::Error only (no OpenCV type crosses this API)
    std::string what = e.err.empty() ? e.what() : e.err;
    std::replace(what.begin(), what.end(), '\n', ' ');
    NAT_THROW("[pipeline] OpenCV failed while augmenting a ", W, " x ", H, " ", format_name(info.format),
              " image: ", what);
  }
  m.norm.to_chw(small, out);
  if (erase && erases()) random_erase(out, 3, S, S, m.erase, rng);
  if (timing) {
    timing->decode_s += decode_s;
    timing->augment_s += thread_cpu_seconds() - t0 - decode_s;
  }
}

std::string SamplePipeline::describe() const {
  const Impl& m = *impl_;
  const DataConfig& c = m.cfg;
  std::ostringstream os;
  auto interp = [&] { return m.train_interp ? interp_name(*m.train_interp) : "random (bilinear|bicubic)"; };
  if (train_ && !c.no_aug) {
    os << "RandomResizedCrop(size=" << c.img_size << ", scale=(" << c.scale[0] << ", " << c.scale[1] << "), ratio=("
       << c.ratio[0] << ", " << c.ratio[1] << "), interpolation=" << interp() << ")\n";
    if (c.hflip > 0) os << "RandomHorizontalFlip(p=" << c.hflip << ")\n";
    if (c.vflip > 0) os << "RandomVerticalFlip(p=" << c.vflip << ")\n";
    if (m.ra)
      os << m.ra->str() << "\n";
    else if (c.color_jitter > 0)
      os << "ColorJitter(brightness=contrast=saturation=" << c.color_jitter << ")\n";
  } else {
    double pct = train_ ? 1.0 : c.crop_pct;
    os << "Resize(" << static_cast<int>(std::floor(c.img_size / pct)) << ", interpolation="
       << (train_ ? (m.train_interp ? interp_name(*m.train_interp) : "bilinear") : c.interpolation.c_str()) << ")\n"
       << "CenterCrop(" << c.img_size << ")\n";
  }
  os << "Normalize(mean=(" << c.mean[0] << ", " << c.mean[1] << ", " << c.mean[2] << "), std=(" << c.std[0] << ", "
     << c.std[1] << ", " << c.std[2] << "))\n";
  if (train_ && !c.no_aug && c.reprob > 0)
    os << "RandomErasing(p=" << c.reprob << ", mode=" << c.remode << ", count=(1, " << c.recount << "))\n";
  return os.str();
}

}  // namespace nat::data
