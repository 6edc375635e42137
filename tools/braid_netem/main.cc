// braid-netem: a user-space link emulator between two network namespaces, for kernels without
// sch_netem (tc qdisc ... netem). It opens a TUN device in each namespace, gives the two ends
// point-to-point addresses, and forwards every IP packet between them through one LinkQueue per
// direction (loss, rate, queue bound, delay). Used by the multi-host test harness (tests/net).
//
//   braid-netem --ns-a A --ns-b B [--dev bt0] [--addr-a 10.88.0.1] [--addr-b 10.88.0.2]
//               [--delay-ms 2] [--rate-mbit 100] [--loss-pct 1] [--queue 1000] [--seed S]
//               [--spin-us 200] [--exit-with-parent]
//
// Prints "ready" on stdout once forwarding; exits 0 on SIGTERM/SIGINT after printing per-direction
// counters on stderr. Exit status: 0 clean stop, 1 setup or I/O failure, 2 bad arguments.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "lib/cli_parse.h"
#include "link_queue.h"
#include "tun_device.h"

namespace braid::netem {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitBadArguments = 2;
constexpr size_t kMaxPacketBytes = 65535;  // the largest IPv4 packet; reads never exceed the MTU

struct Options {
  std::string ns_a, ns_b;
  std::string dev = "bt0";
  std::string addr_a = "10.88.0.1", addr_b = "10.88.0.2";
  double delay_ms = 0;   // one-way, each direction
  double rate_mbit = 0;  // 1e6 bits/s of IP packet bytes, each direction; 0 = unlimited
  double loss_pct = 0;   // percent of packets dropped at random, each direction
  int queue = 1000;      // packets waiting for serialisation, each direction
  int mtu = 1500;        // bytes
  uint64_t seed = 0;     // 0: a random seed
  double spin_us = 200;  // busy-poll this long before each due packet instead of sleeping
  bool exit_with_parent = false;  // SIGTERM ourselves when the launching process dies
};

// Whether `path` is a network namespace (a /run/netns bind mount or /proc/PID/ns/net), asked of the
// kernel (NS_GET_NSTYPE), so that a directory or a plain file is refused before setns.
bool IsNetworkNamespace(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const int type = ioctl(fd, NS_GET_NSTYPE);
  close(fd);
  return type == CLONE_NEWNET;
}

// Returns "" when `o` is usable, else what is wrong with it.
std::string Validate(const Options& o) {
  if (o.ns_a == o.ns_b) return "--ns-a and --ns-b must name different namespaces";
  std::array<struct stat, 2> ids{};
  for (int end = 0; end < 2; ++end) {
    const std::string& ns = end == 0 ? o.ns_a : o.ns_b;
    if (stat(NetnsPath(ns).c_str(), &ids[size_t(end)]) != 0)
      return "netns '" + ns + "' does not exist (no " + NetnsPath(ns) + "; create it with ip netns add)";
    if (!IsNetworkNamespace(NetnsPath(ns)))
      return "netns '" + ns + "': " + NetnsPath(ns) + " is not a network namespace (ip netns add makes one)";
  }
  if (ids[0].st_dev == ids[1].st_dev && ids[0].st_ino == ids[1].st_ino)
    return "--ns-a '" + o.ns_a + "' and --ns-b '" + o.ns_b + "' are the same namespace";
  if (o.dev.empty() || o.dev.size() >= IFNAMSIZ || o.dev.find_first_of("/ \t") != std::string::npos)
    return "--dev '" + o.dev + "' is not an interface name (1-15 characters, no '/' or spaces)";
  if (o.addr_a == o.addr_b) return "--addr-a and --addr-b must differ";
  return "";
}

// An IPv4 address in dotted form, for CLI11.
const CLI::Validator kIPv4{
    [](std::string& s) {
      in_addr a{};
      return inet_pton(AF_INET, s.c_str(), &a) == 1 ? std::string()
                                                    : "'" + s + "' is not an IPv4 address";
    },
    "IPv4"};

// A signalfd for SIGTERM and SIGINT (blocked, so they only arrive through the fd).
int SignalFd() {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  return signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
}

// Reads every packet waiting on `from` into `link`. False on a read error (device gone).
bool ReadAll(const TunDevice& from, LinkQueue* link, std::vector<uint8_t>* buffer) {
  while (true) {
    ssize_t n = read(from.fd(), buffer->data(), buffer->size());
    if (n > 0) {
      link->Enqueue(Packet(buffer->begin(), buffer->begin() + n), Clock::now());
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return true;
    std::fprintf(stderr, "braid-netem: reading %s: %s\n", from.name().c_str(),
                 n == 0 ? "end of file" : std::strerror(errno));
    return false;
  }
}

// Writes the packets of `link` that are due by now into `to`. The kernel may refuse a packet
// (e.g. its backlog is full); that counts as a loss on the receiving host, as on a real NIC.
void DeliverDue(LinkQueue* link, const TunDevice& to, std::vector<Packet>* due,
                uint64_t* write_errors) {
  due->clear();
  link->TakeDue(Clock::now(), due);
  for (const Packet& p : *due)
    if (write(to.fd(), p.data(), p.size()) != ssize_t(p.size())) ++*write_errors;
}

// ppoll timeout until `spin` before the earliest due packet of either link (zero inside that
// window, so the loop polls without sleeping); null (wait forever) if no packet is queued.
const timespec* UntilNextDue(const std::array<LinkQueue, 2>& links, std::chrono::nanoseconds spin,
                             timespec* ts) {
  std::optional<Clock::time_point> next;
  for (const LinkQueue& link : links) {
    std::optional<Clock::time_point> t = link.NextDue();
    if (t && (!next || *t < *next)) next = t;
  }
  if (!next) return nullptr;
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(*next - spin - Clock::now()).count();
  if (ns < 0) ns = 0;
  ts->tv_sec = ns / 1000000000;
  ts->tv_nsec = ns % 1000000000;
  return ts;
}

void PrintCounters(const char* direction, const LinkCounters& c, uint64_t write_errors) {
  const double late_us = c.delivered ? double(c.late_ns_total) / double(c.delivered) / 1e3 : 0;
  std::fprintf(stderr,
               "braid-netem: %s delivered %llu packets (%llu bytes; %.1f us late on average), "
               "lost %llu, queue-dropped %llu, refused by the kernel %llu\n",
               direction, (unsigned long long)c.delivered, (unsigned long long)c.bytes_delivered,
               late_us, (unsigned long long)c.lost, (unsigned long long)c.queue_dropped,
               (unsigned long long)write_errors);
}

// Forwards until SIGTERM/SIGINT. Direction 0 is A -> B, direction 1 is B -> A.
// `spin`: how long before a packet is due the loop stops sleeping and polls. A sleeping thread
// wakes late (100-300 us measured in a 2-vCPU VM, whose idle vCPUs halt), which would add to every
// emulated delay; spinning for the last stretch costs CPU instead.
int Forward(const std::array<TunDevice, 2>& tuns, std::array<LinkQueue, 2>& links,
            std::chrono::nanoseconds spin, int signal_fd) {
  // Wake-ups land within ~1 us of the requested time instead of the default 50 us slack.
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  std::vector<uint8_t> buffer(kMaxPacketBytes);
  std::vector<Packet> due;
  std::array<uint64_t, 2> write_errors{0, 0};
  std::printf("ready\n");
  std::fflush(stdout);
  int status = 0;
  while (true) {
    std::array<pollfd, 3> fds{pollfd{tuns[0].fd(), POLLIN, 0}, pollfd{tuns[1].fd(), POLLIN, 0},
                              pollfd{signal_fd, POLLIN, 0}};
    timespec ts{};
    if (ppoll(fds.data(), fds.size(), UntilNextDue(links, spin, &ts), nullptr) < 0 && errno != EINTR) {
      std::fprintf(stderr, "braid-netem: ppoll: %s\n", std::strerror(errno));
      status = kExitFailure;
      break;
    }
    if (fds[2].revents) break;  // SIGTERM or SIGINT
    bool ok = true;
    for (int d = 0; d < 2; ++d)
      if (fds[size_t(d)].revents) ok = ReadAll(tuns[size_t(d)], &links[size_t(d)], &buffer) && ok;
    for (int d = 0; d < 2; ++d)
      DeliverDue(&links[size_t(d)], tuns[size_t(1 - d)], &due, &write_errors[size_t(d)]);
    if (!ok) {
      status = kExitFailure;
      break;
    }
  }
  PrintCounters("A->B", links[0].counters(), write_errors[0]);
  PrintCounters("B->A", links[1].counters(), write_errors[1]);
  return status;
}

// Parses and validates the command line into *o. Returns an exit status when the program should
// stop (0 after --help, kExitBadArguments with the reason on stderr), nullopt to go on.
std::optional<int> ParseOptions(int argc, char** argv, Options* o) {
  CLI::App app{"braid-netem: emulate a link (delay, rate, loss) between two network namespaces "
               "with a TUN device in each; prints \"ready\" when forwarding, stops on SIGTERM",
               "braid-netem"};
  app.add_option("--ns-a", o->ns_a, "Network namespace of end A (ip netns name or path)")->required();
  app.add_option("--ns-b", o->ns_b, "Network namespace of end B")->required();
  app.add_option("--dev", o->dev, "TUN device name, the same in both namespaces")->capture_default_str();
  app.add_option("--addr-a", o->addr_a, "IPv4 address of end A")->check(kIPv4)->capture_default_str();
  app.add_option("--addr-b", o->addr_b, "IPv4 address of end B")->check(kIPv4)->capture_default_str();
  app.add_option("--delay-ms", o->delay_ms, "One-way delay, milliseconds")
      ->check(braid::tools::FiniteRange(0.0, 60000.0))->capture_default_str();
  app.add_option("--rate-mbit", o->rate_mbit, "Rate of IP bytes, 1e6 bits/s; 0 = unlimited")
      ->check(braid::tools::FiniteRange(0.0, 1e6))->capture_default_str();
  app.add_option("--loss-pct", o->loss_pct, "Random packet loss, percent")
      ->check(braid::tools::FiniteRange(0.0, 100.0))->capture_default_str();
  app.add_option("--queue", o->queue, "Packets waiting for serialisation; more are tail-dropped")
      ->check(braid::tools::IntegerIn(1, 1000000))->capture_default_str();
  app.add_option("--mtu", o->mtu, "MTU of both devices, bytes")->check(braid::tools::IntegerIn(576, 65535))->capture_default_str();
  app.add_option("--spin-us", o->spin_us,
                 "Busy-poll this many microseconds before a packet is due (timer wake-ups are late)")
      ->check(braid::tools::FiniteRange(0.0, 100000.0))->capture_default_str();
  app.add_flag("--exit-with-parent", o->exit_with_parent,
               "Stop when the process that started braid-netem dies (a test harness killed hard)");
  app.add_option("--seed", o->seed, "Seed of the loss draws; 0 = random")
      ->check(braid::tools::IntegerIn(0, std::numeric_limits<long>::max()))
      ->capture_default_str();
  if (std::optional<int> exit_code = braid::tools::ParseCommandLine(app, argc, argv, "braid-netem", kExitBadArguments))
    return *exit_code;
  if (std::string why = Validate(*o); !why.empty()) {
    std::fprintf(stderr, "braid-netem: %s\n", why.c_str());
    return kExitBadArguments;
  }
  return std::nullopt;
}

// The two directions' link settings (A -> B, B -> A): the same but for the loss draws.
std::array<LinkQueue, 2> MakeLinks(const Options& o) {
  const uint64_t seed = o.seed ? o.seed : (uint64_t(std::random_device{}()) << 32) | std::random_device{}();
  LinkParams params;
  params.delay = std::chrono::nanoseconds(std::llround(o.delay_ms * 1e6));
  params.rate_bytes_per_s = o.rate_mbit * 1e6 / 8;
  params.loss_probability = o.loss_pct / 100;
  params.queue_packets = size_t(o.queue);
  LinkParams reverse = params;
  params.seed = seed;
  reverse.seed = seed + 1;
  return {LinkQueue(params), LinkQueue(reverse)};
}

int Main(int argc, char** argv) {
  Options o;
  if (std::optional<int> exit_status = ParseOptions(argc, argv, &o)) return *exit_status;
  int signal_fd = SignalFd();  // before the devices exist, so an early SIGTERM is not lost
  if (signal_fd < 0) {
    std::fprintf(stderr, "braid-netem: signalfd: %s\n", std::strerror(errno));
    return kExitFailure;
  }
  if (o.exit_with_parent) {
    const pid_t parent = getppid();
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) return kExitFailure;  // the parent died before prctl took effect
  }
  std::array<TunDevice, 2> tuns;
  const std::array<TunConfig, 2> configs{TunConfig{o.ns_a, o.dev, o.addr_a, o.addr_b, o.mtu},
                                         TunConfig{o.ns_b, o.dev, o.addr_b, o.addr_a, o.mtu}};
  for (size_t i = 0; i < 2; ++i) {
    std::string error;
    if (!TunDevice::Open(configs[i], &tuns[i], &error)) {
      std::fprintf(stderr, "braid-netem: %s\n", error.c_str());
      return kExitFailure;
    }
  }
  std::array<LinkQueue, 2> links = MakeLinks(o);
  int status = Forward(tuns, links, std::chrono::nanoseconds(std::llround(o.spin_us * 1e3)), signal_fd);
  close(signal_fd);
  return status;
}

}  // namespace
}  // namespace braid::netem

int main(int argc, char** argv) { return braid::netem::Main(argc, argv); }
