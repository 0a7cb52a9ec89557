// Fault injection (fault.hpp). The named points, in the order a run meets them:
//   run:locked           cmd_run: the lock file is taken, nothing else done yet
//   create:checked       record_store: the free space was checked, nothing created yet
//   create:attributes    record_store: <out>.creating has its root attributes, no datasets yet (*)
//   create:datasets      record_store: every dataset of <out>.creating exists, not closed/flushed (*)
//   create:closed        record_store: <out>.creating closed and fsync'ed, not yet renamed to <out>
//   create:renamed       record_store: <out> exists (renamed, folder synced), /runs still empty
//   journal:partial      journal: half of <out>.journal written (a torn journal)
//   journal:written      journal: <out>.journal complete and synced, <out> untouched
//   journal:apply-partial journal: the first write of a journal applied to <out> (commit or replay)
//   journal:applied      journal: <out> updated and synced, <out>.journal not yet removed
//   run:opened           cmd_run: the record store is open on every rank, the farm not started
//   farm:chunk-sent      farm: the master has just handed a chunk to a worker
//   records:field        record_store: the first data field of a chunk written, the others not
//   records:status       record_store: every data field and the status written, no fdatasync yet
//   records:synced       record_store: fdatasync done, done flags not yet written
//   records:done         record_store: the chunk's done flags written
//   store:close          record_store: just before the collective close of the study file
//   run:before-end       cmd_run: the farm is over, /runs/<k> not yet ended
//   run:after-end        cmd_run: /runs/<k> ended, lock file not yet released
// (*) reached in the child process that builds the file; its SIGKILL kills the rank too.
#include "scorefarm/io/fault.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace scorefarm::io {

namespace {

struct Fault {
  bool armed = false;
  std::string point;
  long count = 0;
  int signal = SIGKILL;
  std::atomic<long> seen{0};
};

int own_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"}) {
    const char* value = std::getenv(name);
    if (value && *value) return std::atoi(value);
  }
  return 0;
}

Fault& fault() {
  static Fault* f = [] {
    auto* out = new Fault;  // never destroyed: usable until the very end of the process
    const char* spec = std::getenv("SCOREFARM_FAULT_AT");
    if (!spec || !*spec) return out;
    // point:count[:rank[:action]]; the point itself has colons (records:done), the count is the
    // first field made of digits only.
    std::vector<std::string> fields;
    for (std::size_t at = 0;;) {
      const char* colon = std::strchr(spec + at, ':');
      const std::size_t end = colon ? static_cast<std::size_t>(colon - spec) : std::strlen(spec);
      fields.emplace_back(spec + at, end - at);
      if (!colon) break;
      at = end + 1;
    }
    std::size_t i = 1;
    auto digits = [](const std::string& f) { return !f.empty() && f.find_first_not_of("0123456789") == std::string::npos; };
    while (i < fields.size() && !digits(fields[i])) ++i;
    if (i >= fields.size()) {
      std::fprintf(stderr, "scorefarm: ignoring SCOREFARM_FAULT_AT=%s (expected point:count[:rank[:action]])\n",
                   spec);
      return out;
    }
    std::string point = fields[0];
    for (std::size_t k = 1; k < i; ++k) point += ":" + fields[k];
    const std::string rank = i + 1 < fields.size() ? fields[i + 1] : "*";
    const std::string action = i + 2 < fields.size() ? fields[i + 2] : "kill";
    out->count = std::atol(fields[i].c_str());
    if (!rank.empty() && rank != "*" && std::atoi(rank.c_str()) != own_rank()) return out;  // another rank's
    if (action == "stop") out->signal = SIGSTOP;
    out->point = point;
    out->armed = out->count > 0;
    return out;
  }();
  return *f;
}

bool in_child = false;

}  // namespace

void fault_in_child() { in_child = true; }

void fault_point(const char* point) {
  Fault& f = fault();
  if (!f.armed || f.point != point) return;
  if (++f.seen != f.count) return;
  std::fprintf(stderr, "scorefarm: fault injection: %s at %s #%ld (rank %d, pid %ld)\n",
               f.signal == SIGKILL ? "SIGKILL" : "SIGSTOP", point, f.count, own_rank(),
               static_cast<long>(::getpid()));
  std::fflush(stderr);
  if (in_child && f.signal == SIGKILL) ::kill(::getppid(), SIGKILL);
  ::raise(f.signal);
}

}  // namespace scorefarm::io
