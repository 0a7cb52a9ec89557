// Stop signals (signals.hpp).
#include "scorefarm/parallel/signals.hpp"

#include <signal.h>


namespace scorefarm::parallel {

namespace {
volatile sig_atomic_t received = 0;
constexpr int handled[] = {SIGTERM, SIGUSR1, SIGINT};
struct sigaction previous[3];

extern "C" void on_signal(int signal) {
  if (received != 0 && signal == SIGINT) {
    // Second Ctrl-C: the user means it. Default action, re-raised (both async-signal-safe).
    ::signal(SIGINT, SIG_DFL);
    ::raise(SIGINT);
    return;
  }
  if (received == 0) received = signal;
}
}  // namespace

StopSignals::StopSignals() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // MPI and HDF5 calls must not see EINTR
  for (int i = 0; i < 3; ++i) sigaction(handled[i], &action, &previous[i]);
}

StopSignals::~StopSignals() {
  for (int i = 0; i < 3; ++i) sigaction(handled[i], &previous[i], nullptr);
}

bool StopSignals::requested() { return received != 0; }
int StopSignals::signal_number() { return received; }
void StopSignals::reset() { received = 0; }

const char* signal_name(int signal) {
  switch (signal) {
    case SIGTERM: return "SIGTERM";
    case SIGUSR1: return "SIGUSR1";
    case SIGINT: return "SIGINT";
    case 0: return "none";
    default: return "a signal";
  }
}

}  // namespace scorefarm::parallel
