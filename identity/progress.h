// Progress of a long command on stderr: on a terminal a bar redrawn in place, otherwise one
// line every few seconds so that logs of scripted runs stay short. Not thread-safe: one owner.
#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>

namespace storegate::identity {

class Progress {
  public:
    // `label` starts each logged line ("import"); `total` is the amount of work (bytes of the
    // input file); `terminal` picks the bar.
    Progress(std::ostream& out, std::string label, uint64_t total, bool terminal);

    // Reports `done` of `total`, and the rows handled so far; draws only when due.
    void update(uint64_t done, uint64_t rows);
    // Draws the final state and ends the bar's line.
    void finish(uint64_t rows);

  private:
    using Clock = std::chrono::steady_clock;

    void draw(uint64_t done, uint64_t rows);

    std::ostream& out_;
    std::string label_;
    uint64_t total_;
    bool terminal_;
    Clock::time_point start_;
    Clock::time_point last_draw_;
};

// "[#####.....]  50%" for a fraction in [0, 1] and a bar `width` characters wide.
std::string progress_bar(double fraction, int width);

}  // namespace storegate::identity
