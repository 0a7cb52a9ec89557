#pragma once
// Crash-safe metadata updates of an existing HDF5 file, through a redo journal.
//
// Why: HDF5 1.10 updates metadata in place, in several writes, in an order of its choosing. A
// process killed (kill -9, node loss) in the middle of e.g. creating /runs/<k> may leave a file
// that no longer opens. scorefarm's records never need this (they are raw data at fixed,
// preallocated offsets), but the /runs bookkeeping does.
//
// How: the file is opened through a small HDF5 virtual file driver ("scorefarm_journal") that
// reads the real file but keeps every write in memory. On commit() the collected writes are
//   1. written to <path>.journal with a checksum and fsync'ed,   (kill here: journal incomplete,
//                                                                 discarded; the file is untouched)
//   2. applied to <path> in place and fsync'ed,                  (kill here: the complete journal is
//                                                                 replayed by recover_journal)
//   3. the journal is unlinked.
// So after a kill at any instant the file is either wholly before or wholly after the update, once
// recover_journal() has run — which RecordStore does before every open, under the lock file.
#include <string>

#include "scorefarm/io/hdf5.hpp"

namespace scorefarm::io {

// "<path>.journal"
std::string journal_path(const std::string& path);

// Completes or discards an interrupted commit of `path`. Returns what was done, for a log line
// ("" when there was no journal).
std::string recover_journal(const std::string& path);

// An existing HDF5 file opened read-write through the journaling driver.
class JournaledFile {
 public:
  explicit JournaledFile(const std::string& path);  // runs recover_journal first
  JournaledFile(const JournaledFile&) = delete;
  JournaledFile& operator=(const JournaledFile&) = delete;
  ~JournaledFile();  // without commit(): every change is dropped, the file stays as it was

  hid_t id() const { return file_.get(); }
  const std::string& path() const { return path_; }

  // Closes the file and makes all its changes durable atomically (see above). Objects opened inside
  // the file must be closed before (they are closed forcibly otherwise).
  void commit();

 private:
  std::string path_;
  h5::Handle file_;
};

namespace testing {
// Fault injection for tests: called at each step of a commit with "journal-written" (journal
// complete and synced, file untouched) and "applied" (file updated, journal not yet removed).
using CommitHook = void (*)(const char* stage);
void set_commit_hook(CommitHook hook);
}  // namespace testing

}  // namespace scorefarm::io
