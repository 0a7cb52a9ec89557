#pragma once
// Mid-trial checkpoints of a study: one small file per trial in progress, beside the study file,
//   <out>.checkpoints/c<cell>-t<trial>.ckpt
// They are not in the HDF5 file because any rank saves at any time, and in parallel HDF5 creating an
// object is collective; a plain file per trial needs no coordination (one rank owns a trial at a time).
//
// Each file is "SFCKPT01", the study's config hash (16 bytes), cell, trial, payload length (uint64,
// little-endian as on every machine scorefarm runs on), an FNV-1a 64 checksum of the payload, then
// the payload (the runner's opaque state). It is written to a temporary name, fsync'ed and renamed,
// so a kill at any instant leaves the previous checkpoint or the new one, whole. A file that is
// short, damaged or of another study is ignored with a note: the trial then starts from the
// beginning, which gives the same record, only later.
//
// Life: saved by the rank computing a long trial (every --checkpoint-seconds, and when a stop
// arrives); read by whichever rank gets the trial on a later run; removed once the trial's record
// is written; the folder is removed when the study is complete.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace scorefarm::io {

class CheckpointFiles {
 public:
  // `study_path` is the study file (-o); `config_hash` the 16 hex digits that identify the study.
  CheckpointFiles(const std::string& study_path, std::string config_hash);

  const std::string& folder() const { return folder_; }
  std::string path(std::size_t cell, std::uint64_t trial) const;

  // The state saved for (cell, trial), or nullopt when there is none or it cannot be used (`note`
  // then says why, when it was there but unusable).
  std::optional<std::vector<unsigned char>> load(std::size_t cell, std::uint64_t trial,
                                                 std::string* note = nullptr) const;
  // Atomically replaces the state of (cell, trial). Throws std::runtime_error (with the path and the
  // system's reason) when it cannot be written; the previous checkpoint, if any, is then intact.
  void save(std::size_t cell, std::uint64_t trial, const std::vector<unsigned char>& state) const;
  // Removes the checkpoint of (cell, trial), if any. Never throws.
  void remove(std::size_t cell, std::uint64_t trial) const noexcept;
  // Removes every checkpoint file and the folder (when the study is complete). Never throws;
  // returns false when something could not be removed.
  bool remove_all() const noexcept;
  // Number of checkpoint files present (for messages and tests).
  std::size_t count() const;

 private:
  std::string folder_;
  std::string hash_;
};

// "<study_path>.checkpoints"
std::string checkpoint_folder(const std::string& study_path);

}  // namespace scorefarm::io
