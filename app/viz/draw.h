// Small OpenCV drawing helpers shared by the `nat explain` and `nat attn` pictures: text, legend swatches,
// dashed rectangles, a colour bar, and the palette (BGR). Only built with OpenCV (NAT_WITH_OPENCV).
#pragma once

#if NAT_WITH_OPENCV
#include <opencv2/core.hpp>
#include <string>

namespace nat::viz {

namespace colour {
inline const cv::Scalar kBackground(255, 255, 255);
inline const cv::Scalar kText(30, 30, 30);
inline const cv::Scalar kMuted(110, 110, 110);
inline const cv::Scalar kCell(236, 236, 236);  // a map cell nobody looks at
inline const cv::Scalar kGridLine(190, 190, 190);
inline const cv::Scalar kClass(250, 232, 214);    // the query's dilation class (light blue)
inline const cv::Scalar kKey(224, 150, 70);       // an attended key (blue)
inline const cv::Scalar kQuery(50, 60, 215);      // the query (red)
inline const cv::Scalar kRpb(60, 170, 245);       // an rpb cell in use (orange)
inline const cv::Scalar kInverse(170, 90, 150);   // a query that attends the chosen key (purple)
inline const cv::Scalar kChosenKey(60, 160, 60);  // the key whose inverse neighbourhood is drawn (green)
}  // namespace colour

// Text with its baseline-left corner at `p`.
void put_text(cv::Mat& img, const std::string& s, cv::Point p, double scale = 0.5, int thickness = 1,
              const cv::Scalar& c = colour::kText);
cv::Size text_size(const std::string& s, double scale = 0.5, int thickness = 1);
// Text centred on `centre`.
void put_text_centred(cv::Mat& img, const std::string& s, cv::Point centre, double scale = 0.5,
                      const cv::Scalar& c = colour::kText);
// A filled square swatch and its label; returns the x just after the label.
int legend_item(cv::Mat& img, cv::Point p, const cv::Scalar& fill, const std::string& label, bool outline_only = false);
void dashed_rectangle(cv::Mat& img, cv::Rect r, const cv::Scalar& c, int thickness = 2, int dash = 6);
// A horizontal ramp of `colormap` (cv::COLORMAP_*) from 0 at the left to 1 at the right, labelled lo and hi
// below its ends and `title` to its left; returns the x just after it.
int colour_ramp(cv::Mat& img, cv::Rect r, int colormap, const std::string& lo, const std::string& hi,
                const std::string& title);
// BGR colour of `value` in [0, 1] under `colormap`.
cv::Vec3b colormap_colour(double value, int colormap);

}  // namespace nat::viz
#endif
