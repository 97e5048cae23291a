// BoundedHttpServer (server/admin/bounded_http.hpp): cpp-httplib with a
// bound on each request's head and a deadline on each request, over real
// loopback sockets. Small limits keep the cases fast. Linux routes all of
// 127.0.0.0/8 to loopback, so a client bound to 127.0.0.2 is another source.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "admin/bounded_http.hpp"

namespace {

using irp::server::admin::BoundedHttpServer;
using irp::server::admin::HttpLimits;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxHead = 1024;
constexpr std::chrono::milliseconds kDeadline{600};
constexpr std::size_t kThreads = 12;

struct Fixture {
    BoundedHttpServer srv;
    std::thread th;
    int port = -1;
    std::atomic<int> refusals{0};  // on_refused calls

    explicit Fixture(HttpLimits limits = HttpLimits{kMaxHead, kDeadline, kThreads}) : srv(limits) {
        srv.on_refused = [this] { ++refusals; };
        srv.Get("/hello", [](const httplib::Request&, httplib::Response& res) { res.set_content("hi", "text/plain"); });
        srv.Get("/peer", [](const httplib::Request& req, httplib::Response& res) {
            res.set_content(req.remote_addr, "text/plain");
        });
        srv.Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
            res.set_content("got " + std::to_string(req.body.size()), "text/plain");
        });
        srv.set_payload_max_length(4096);
        srv.set_read_timeout(5, 0);
        srv.set_keep_alive_max_count(10);
        port = srv.bind_to_any_port("127.0.0.1");
        REQUIRE(port > 0);
        th = std::thread([this] { srv.listen_after_bind(); });
        for (int i = 0; i < 200 && !srv.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        REQUIRE(srv.is_running());
    }
    ~Fixture() {
        srv.stop();
        th.join();
    }

    // A connection from `source` (127.0.0.1 unless told).
    int connect(const char* source = nullptr) const {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        if (source) {
            sockaddr_in from{};
            from.sin_family = AF_INET;
            REQUIRE(::inet_pton(AF_INET, source, &from.sin_addr) == 1);
            REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) == 0);
        }
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<std::uint16_t>(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        timeval tv{3, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        return fd;
    }
};

void send_all(int fd, const std::string& s) {
    for (std::size_t off = 0; off < s.size();) {
        const ssize_t r = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
        if (r <= 0) return;  // the server may close on us: that is what some cases expect
        off += static_cast<std::size_t>(r);
    }
}

// Everything the server sends until it closes (or 3 s pass).
std::string read_all(int fd) {
    std::string out;
    char buf[4096];
    for (;;) {
        const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
        if (r <= 0) break;
        out.append(buf, static_cast<std::size_t>(r));
    }
    return out;
}

int count(const std::string& hay, const std::string& needle) {
    int n = 0;
    for (auto p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
    return n;
}

std::string exchange(const Fixture& f, const std::string& request, const char* source = nullptr) {
    const int fd = f.connect(source);
    std::thread sender([&] { send_all(fd, request); });
    std::string out = read_all(fd);
    sender.join();
    ::close(fd);
    return out;
}

}  // namespace

TEST_CASE("bounded http: ordinary requests are served as by cpp-httplib") {
    Fixture f;
    SUBCASE("two pipelined requests on one connection, and the peer's address") {
        const std::string out = exchange(f,
                                         "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
                                         "GET /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        CHECK(count(out, "HTTP/1.1 200 OK") == 2);
        CHECK(out.find("\r\n\r\nhi") != std::string::npos);
        CHECK(out.find("\r\n\r\n127.0.0.1") != std::string::npos);
    }
    SUBCASE("a body larger than the head bound is not counted as head") {
        const std::string body(3000, 'b');
        const std::string out = exchange(f, "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 3000\r\n"
                                            "Content-Type: text/plain\r\n\r\n" + body);
        CHECK(out.rfind("HTTP/1.1 200 OK", 0) == 0);
        CHECK(out.find("got 3000") != std::string::npos);
    }
    SUBCASE("a head just under the bound") {
        std::string head = "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n";
        head += "X-Pad: " + std::string(kMaxHead - head.size() - 11, 'p') + "\r\n\r\n";
        REQUIRE(head.size() == kMaxHead);
        CHECK(exchange(f, head).rfind("HTTP/1.1 200 OK", 0) == 0);
    }
    SUBCASE("a body past the payload bound still gets cpp-httplib's 413") {
        const std::string out = exchange(f, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" +
                                                std::string(5000, 'b'));
        CHECK(out.rfind("HTTP/1.1 413", 0) == 0);
    }
}

TEST_CASE("bounded http: a head past the bound gets 431 and the server keeps serving") {
    Fixture f;
    std::string request;
    std::size_t answers_before = 0;  // cpp-httplib's own answers to earlier requests on the connection
    SUBCASE("a request line that never ends") { request = "GET /" + std::string(256 * 1024, 'a'); }
    SUBCASE("too many header bytes") {
        request = "GET /hello HTTP/1.1\r\n";
        for (int i = 0; i < 60; ++i) request += "X-Filler-" + std::to_string(i) + ": 0123456789abcdef\r\n";
        request += "\r\n";
    }
    SUBCASE("a request served, then an endless one on the same connection") {
        request = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /" + std::string(256 * 1024, 'a');
        answers_before = 1;
    }
    SUBCASE("an empty line (cpp-httplib's 400), then an endless request line") {
        request = "\r\nGET /" + std::string(256 * 1024, 'a');
        answers_before = 1;
    }
    const std::string out = exchange(f, request);
    CAPTURE(out.substr(0, 300));
    const auto ours = out.find("HTTP/1.1 431 Request Header Fields Too Large\r\n");
    REQUIRE(ours != std::string::npos);
    CHECK(count(out.substr(0, ours), "HTTP/1.1 ") == static_cast<int>(answers_before));
    CHECK(out.find("\"code\":100", ours) != std::string::npos);
    CHECK(out.find("HTTP/1.1", ours + 1) == std::string::npos);  // nothing after ours: the connection closed
    CHECK(exchange(f, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").rfind("HTTP/1.1 200 OK", 0) == 0);
}

TEST_CASE("bounded http: a request trickled in gets 408 at its deadline") {
    Fixture f;
    const int fd = f.connect();
    const auto t0 = Clock::now();
    std::thread trickler([&] {
        send_all(fd, "GET /hello HTTP/1.1\r\n");
        // One byte per 100 ms: each read is well within the 5 s read timeout.
        for (int i = 0; i < 30; ++i) {
            send_all(fd, "a");
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    });
    const std::string out = read_all(fd);
    const auto elapsed = Clock::now() - t0;
    trickler.join();
    ::close(fd);
    CAPTURE(out);
    CAPTURE(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count());
    CHECK(out.rfind("HTTP/1.1 408 Request Timeout\r\n", 0) == 0);
    CHECK(out.find("\"code\":107") != std::string::npos);
    CHECK(elapsed >= kDeadline - std::chrono::milliseconds(50));
    CHECK(elapsed < std::chrono::milliseconds(2500));
}

TEST_CASE("bounded http: idle connections up to one less than the threads do not delay a request") {
    Fixture f;
    std::vector<int> idle;
    for (std::size_t i = 0; i + 1 < kThreads; ++i) idle.push_back(f.connect());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // each now holds a worker, waiting
    const auto t0 = Clock::now();
    const std::string out = exchange(f, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK(out.rfind("HTTP/1.1 200 OK", 0) == 0);
    // cpp-httplib's default of 8 workers would leave this one queued until an
    // idle peer's 5 s keep-alive wait ends.
    CHECK(Clock::now() - t0 < std::chrono::seconds(2));
    for (int fd : idle) ::close(fd);
}

TEST_CASE("bounded http: one source address has at most max_per_source connections served at once") {
    Fixture f(HttpLimits{kMaxHead, kDeadline, kThreads, 2});
    const std::string get = "GET /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    std::vector<int> idle{f.connect(), f.connect()};
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // both admitted, waiting for a request

    // A third from the same address: refused at once, not queued behind the
    // idle ones' 5 s keep-alive wait.
    const auto t0 = Clock::now();
    std::string out = exchange(f, get);
    CAPTURE(out);
    CHECK(out.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0) == 0);
    CHECK(out.find("Retry-After: 1\r\n") != std::string::npos);
    CHECK(out.find("\"code\":503") != std::string::npos);
    CHECK(out.find("\"name\":\"too_many_connections\"") != std::string::npos);
    CHECK(Clock::now() - t0 < std::chrono::seconds(1));
    CHECK(f.refusals == 1);

    // Another address is not affected.
    out = exchange(f, get, "127.0.0.2");
    CHECK(out.rfind("HTTP/1.1 200 OK", 0) == 0);
    CHECK(out.find("\r\n\r\n127.0.0.2") != std::string::npos);

    // When one of the two ends, the address gets a connection again.
    ::close(idle.back());
    idle.pop_back();
    bool served = false;
    for (int i = 0; i < 40 && !served; ++i) {
        served = exchange(f, get).rfind("HTTP/1.1 200 OK", 0) == 0;
        if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(served);

    // A bound lowered while serving counts the connection already open; 0
    // lifts it.
    const int before = f.refusals;
    f.srv.set_max_per_source(1);
    CHECK(exchange(f, get).rfind("HTTP/1.1 503", 0) == 0);
    CHECK(f.refusals == before + 1);
    f.srv.set_max_per_source(0);
    CHECK(exchange(f, get).rfind("HTTP/1.1 200 OK", 0) == 0);
    for (int fd : idle) ::close(fd);
}
