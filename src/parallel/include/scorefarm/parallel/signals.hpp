#pragma once
// SIGTERM, SIGUSR1 and SIGINT ask a run to stop cleanly. The handler only records the signal (an
// async-signal-safe store); the farm polls requested() between trials and turns it into the stop
// protocol of farm.hpp, whichever rank received it. A second SIGINT (Ctrl-C twice) kills the
// process at once — still safe: completed records are on disk (io/record_store.hpp).
namespace scorefarm::parallel {

class StopSignals {
 public:
  StopSignals();   // installs the handlers
  ~StopSignals();  // restores the previous ones
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  static bool requested();
  static int signal_number();  // the first signal received, 0 if none
  static void reset();         // for tests
};

// "SIGTERM"
const char* signal_name(int signal);

}  // namespace scorefarm::parallel
