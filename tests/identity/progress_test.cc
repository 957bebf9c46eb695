#include "identity/progress.h"

#include <gtest/gtest.h>

#include <sstream>

namespace storegate::identity {
namespace {

TEST(ProgressBar, FillsInProportion) {
    EXPECT_EQ(progress_bar(0.0, 10), "[..........]   0%");
    EXPECT_EQ(progress_bar(0.5, 10), "[#####.....]  50%");
    EXPECT_EQ(progress_bar(1.0, 10), "[##########] 100%");
}

TEST(ProgressBar, ClampsOutOfRangeFractions) {
    EXPECT_EQ(progress_bar(-1.0, 4), "[....]   0%");
    EXPECT_EQ(progress_bar(2.5, 4), "[####] 100%");
}

TEST(Progress, WritesOneFinalLineWhenNotATerminal) {
    std::ostringstream out;
    Progress progress(out, "import", 200, false);
    progress.update(100, 10);  // too soon after the start to draw
    progress.finish(20);
    EXPECT_EQ(out.str().rfind("import progress: 100% rows=20 ", 0), 0u) << out.str();
    EXPECT_EQ(out.str().find('\r'), std::string::npos);
}

TEST(Progress, RedrawsInPlaceOnATerminal) {
    std::ostringstream out;
    Progress progress(out, "import", 0, true);
    progress.finish(7);
    EXPECT_EQ(out.str().rfind("\r[##############################] 100% 7 rows", 0), 0u)
        << out.str();
    EXPECT_EQ(out.str().back(), '\n');
}

}  // namespace
}  // namespace storegate::identity
