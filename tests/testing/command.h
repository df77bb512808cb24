#pragma once

// Runs a shell command for a test and captures what it printed and how it exited: the tests of
// the binaries (weftctl, weft-testapp, tools/cluster) check their exit codes and output.

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

namespace weft::testing {

struct CommandResult {
  int exit_code = -1;  // -1 when the command did not exit normally (a signal) or did not run.
  std::string out;     // stdout
  std::string err;     // stderr
  std::string all() const { return out + err; }
};

// Runs `shell_command` with /bin/sh: stdin is `stdin_text` (/dev/null when empty), stdout and
// stderr are captured apart. The command runs as a group, so redirections of its own apply
// inside it: "... 2>&1" puts its stderr on `out`, and every part of "a; b" gets the stdin.
inline CommandResult RunCommand(const std::string& shell_command,
                                const std::string& stdin_text = "") {
  CommandResult r;
  std::string in_path = "/dev/null";
  if (!stdin_text.empty()) {
    char in_tmpl[] = "/tmp/weft-command-in.XXXXXX";
    int fd = mkstemp(in_tmpl);
    if (fd < 0) return r;
    close(fd);
    in_path = in_tmpl;
    std::ofstream(in_path, std::ios::binary) << stdin_text;
  }
  char err_tmpl[] = "/tmp/weft-command-err.XXXXXX";
  int fd = mkstemp(err_tmpl);
  if (fd >= 0) {
    close(fd);
    // The newline ends a command that ends in a comment or `&` before the group closes.
    std::string cmd = "{ " + shell_command + "\n} <" + in_path + " 2>" + err_tmpl;
    if (FILE* p = popen(cmd.c_str(), "r")) {
      char buf[4096];
      size_t n;
      while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
      int status = pclose(p);
      r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::ifstream err(err_tmpl, std::ios::binary);
    r.err.assign(std::istreambuf_iterator<char>(err), std::istreambuf_iterator<char>());
    unlink(err_tmpl);
  }
  if (!stdin_text.empty()) unlink(in_path.c_str());
  return r;
}

}  // namespace weft::testing
