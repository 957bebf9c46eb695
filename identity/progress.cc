#include "identity/progress.h"

#include <algorithm>
#include <cstdio>

namespace storegate::identity {

namespace {

constexpr auto kTerminalInterval = std::chrono::milliseconds(100);
constexpr auto kLogInterval = std::chrono::seconds(5);
constexpr int kBarWidth = 30;

}  // namespace

std::string progress_bar(double fraction, int width) {
    fraction = std::clamp(fraction, 0.0, 1.0);
    int filled = static_cast<int>(fraction * width);
    std::string bar = "[" + std::string(filled, '#') + std::string(width - filled, '.') + "]";
    char percent[8];
    std::snprintf(percent, sizeof percent, " %3d%%", static_cast<int>(fraction * 100));
    return bar + percent;
}

Progress::Progress(std::ostream& out, std::string label, uint64_t total, bool terminal)
    : out_(out),
      label_(std::move(label)),
      total_(total),
      terminal_(terminal),
      start_(Clock::now()),
      last_draw_(start_) {}

void Progress::update(uint64_t done, uint64_t rows) {
    Clock::time_point now = Clock::now();
    if (now - last_draw_ < (terminal_ ? kTerminalInterval : kLogInterval)) {
        return;
    }
    last_draw_ = now;
    draw(done, rows);
}

void Progress::finish(uint64_t rows) {
    draw(total_, rows);
    if (terminal_) {
        out_ << "\n";
    }
    out_.flush();
}

void Progress::draw(uint64_t done, uint64_t rows) {
    double fraction = total_ == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total_);
    double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    uint64_t rate = seconds > 0 ? static_cast<uint64_t>(static_cast<double>(rows) / seconds) : 0;
    if (terminal_) {
        out_ << "\r" << progress_bar(fraction, kBarWidth) << " " << rows << " rows, " << rate
             << " rows/s  " << std::flush;
        return;
    }
    out_ << label_ << " progress: " << static_cast<int>(std::clamp(fraction, 0.0, 1.0) * 100)
         << "% rows=" << rows << " rows_per_second=" << rate << "\n"
         << std::flush;
}

}  // namespace storegate::identity
