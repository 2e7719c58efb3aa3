// floor: what the kernel alone charges for writing small frames over loopback TCP on this
// machine, the floor under any server's fanout. N connected TCP pairs on 127.0.0.1
// (TCP_NODELAY, as both servers set); a writer thread writes --frame-bytes frames to the N
// sockets in turn, k frames per writev, while a reader thread drains the N peers through
// epoll as the load generator does. For each k: the writer thread's CPU (getrusage
// RUSAGE_THREAD) per frame and per write. --rate R paces the rounds (one write to every
// socket) at R a second, as a low-rate broadcast does; 0 writes flat out. One JSON line.
//
//   floor [--pairs 1000] [--frame-bytes 165] [--frames-per-write 1,2,8] [--seconds 2]
//         [--rate 0] [--writer-core 0] [--reader-core 1]
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using steady = std::chrono::steady_clock;

struct options {
  int pairs = 1000;
  int frame_bytes = 165; // loadgen's receive-message frame from either server
  std::vector<int> frames_per_write{1, 2, 8};
  double seconds = 2;
  double rate = 0;
  int writer_core = -1, reader_core = -1;
};

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "floor: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

void pin(int core) {
  if (core < 0)
    return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core, &set);
  if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0)
    std::fprintf(stderr, "floor: cannot pin to core %d\n", core);
}

struct thread_usage {
  double cpu_s;
  long waits; // voluntary context switches: a full socket buffer, or the pacing
};

thread_usage thread_usage_now() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return {static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec)
              + static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6,
          u.ru_nvcsw};
}

// Connects n pairs through a listener on 127.0.0.1; returns {writer ends, reader ends}.
std::pair<std::vector<int>, std::vector<int>> connect_pairs(int n) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(listener, 64) != 0
      || getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    die("listen");
  std::vector<int> writers, readers;
  for (int i = 0; i < n; ++i) {
    const int r = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (r < 0 || (connect(r, reinterpret_cast<sockaddr*>(&addr), len) != 0 && errno != EINPROGRESS))
      die("connect");
    const int w = accept(listener, nullptr, nullptr);
    if (w < 0)
      die("accept");
    const int one = 1;
    setsockopt(w, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    writers.push_back(w);
    readers.push_back(r);
  }
  close(listener);
  return {writers, readers};
}

std::atomic<long long> received{0};
std::atomic<bool> done{false};

void drain(const std::vector<int>& fds, int core) {
  pin(core);
  const int ep = epoll_create1(0);
  for (int fd : fds) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
      die("epoll_ctl");
  }
  std::vector<char> buffer(64 * 1024);
  epoll_event events[256];
  while (!done.load()) {
    const int n = epoll_wait(ep, events, 256, 100);
    for (int i = 0; i < n; ++i) {
      ssize_t got;
      while ((got = read(events[i].data.fd, buffer.data(), buffer.size())) > 0)
        received.fetch_add(got, std::memory_order_relaxed);
    }
  }
  close(ep);
}

std::vector<int> parse_list(const char* s) {
  std::vector<int> v;
  for (char* end = nullptr; *s; s = *end ? end + 1 : end) {
    v.push_back(static_cast<int>(std::strtol(s, &end, 10)));
    if (end == s || v.back() < 1)
      return {};
  }
  return v;
}

bool parse(int argc, char** argv, options& o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* v = argv[i + 1];
    if (flag == "--pairs")
      o.pairs = std::atoi(v);
    else if (flag == "--frame-bytes")
      o.frame_bytes = std::atoi(v);
    else if (flag == "--frames-per-write")
      o.frames_per_write = parse_list(v);
    else if (flag == "--seconds")
      o.seconds = std::atof(v);
    else if (flag == "--rate")
      o.rate = std::atof(v);
    else if (flag == "--writer-core")
      o.writer_core = std::atoi(v);
    else if (flag == "--reader-core")
      o.reader_core = std::atoi(v);
    else
      return false;
  }
  return argc % 2 == 1 && o.pairs > 0 && o.frame_bytes > 0 && !o.frames_per_write.empty() && o.seconds > 0
         && o.rate >= 0;
}

} // namespace

int main(int argc, char** argv) {
  options o;
  if (!parse(argc, argv, o)) {
    std::fprintf(stderr, "usage: floor [--pairs 1000] [--frame-bytes 165] [--frames-per-write 1,2,8] "
                         "[--seconds 2] [--rate 0] [--writer-core C] [--reader-core C]\n");
    return 2;
  }
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  setrlimit(RLIMIT_NOFILE, &files);
  pin(o.writer_core);
  auto [writers, readers] = connect_pairs(o.pairs);
  std::thread reader(drain, std::cref(readers), o.reader_core);

  const std::string frame(static_cast<std::size_t>(o.frame_bytes), 'x');
  long long sent = 0;
  std::string modes;
  for (int k : o.frames_per_write) {
    std::vector<iovec> iov(static_cast<std::size_t>(k), iovec{const_cast<char*>(frame.data()), frame.size()});
    while (received.load() < sent) // the previous mode fully read: nothing of it left to pay for
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    long long writes = 0;
    const auto usage0 = thread_usage_now();
    const auto t0 = steady::now();
    const auto t1 = t0 + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(o.seconds));
    auto next_round = t0;
    while (steady::now() < t1) {
      for (int fd : writers) {
        if (writev(fd, iov.data(), k) != static_cast<ssize_t>(k) * o.frame_bytes)
          die("writev"); // blocking sockets: all or an error
      }
      writes += o.pairs;
      if (o.rate > 0) {
        next_round += std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(1 / o.rate));
        std::this_thread::sleep_until(next_round);
      }
    }
    const auto usage1 = thread_usage_now();
    const double cpu = usage1.cpu_s - usage0.cpu_s;
    const double wall = std::chrono::duration<double>(steady::now() - t0).count();
    sent += writes * k * o.frame_bytes;
    char line[256];
    std::snprintf(line, sizeof line,
                  "%s{\"frames_per_write\":%d,\"writes\":%lld,\"frames\":%lld,\"seconds\":%.3f,\"writer_cpu_s\":%.4f,"
                  "\"writer_waits\":%ld,\"cpu_us_per_write\":%.3f,\"cpu_us_per_frame\":%.3f}",
                  modes.empty() ? "" : ",", k, writes, writes * k, wall, cpu, usage1.waits - usage0.waits,
                  cpu * 1e6 / writes, cpu * 1e6 / (writes * k));
    modes += line;
    std::fprintf(stderr, "floor: %d frame(s) per write: %.3f us per frame\n", k, cpu * 1e6 / (writes * k));
  }
  done = true;
  reader.join();
  std::printf("{\"pairs\":%d,\"frame_bytes\":%d,\"rate\":%g,\"modes\":[%s]}\n", o.pairs, o.frame_bytes, o.rate,
              modes.c_str());
  return 0;
}
