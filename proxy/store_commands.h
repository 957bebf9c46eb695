// `storegate store pause|resume|route|move`: the DBA's side of live retargeting. Each command
// changes the registry (with a storegate_audit row) and then waits until every live instance
// (recent heartbeat in storegate_instances) has applied the change; a pause also waits until
// each has reported the store quiesced. `move` is pause, switch, resume, and reports how long
// the store was paused. A move that cannot finish resumes the store where it was.
#pragma once

#include <CLI/CLI.hpp>

namespace storegate::proxy {

void add_store_commands(CLI::App& app, int& exit_code);

}  // namespace storegate::proxy
