// PublicHttpServer (server/admin/public_http.hpp): the event-driven public
// listener, over real loopback sockets (raw_http.hpp).
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "admin/public_http.hpp"
#include "raw_http.hpp"

namespace {

using irp::server::admin::PublicAnswer;
using irp::server::admin::PublicHttpLimits;
using irp::server::admin::PublicHttpServer;
using Clock = std::chrono::steady_clock;
using irp::test::count;
using irp::test::send_all;

PublicHttpLimits small_limits(unsigned idle_timeout_s = 10) {
    PublicHttpLimits l;
    l.threads = 2;
    l.max_connections = 1024;
    l.max_per_source = 2;
    l.idle_timeout_s = idle_timeout_s;
    l.connection_memory = 16 * 1024;
    l.max_body = 4096;
    return l;
}

struct Fixture {
    std::atomic<int> refusals{0};
    PublicHttpServer srv;
    std::uint16_t port = 0;

    explicit Fixture(PublicHttpLimits limits = small_limits())
        : srv(limits, [](const std::string& method, const std::string& path, const std::string& body) {
              if (path == "/hello") return PublicAnswer{200, "text/plain", method + " hi"};
              if (path == "/echo" && method == "POST") return PublicAnswer{200, "text/plain", "got " + std::to_string(body.size())};
              return PublicAnswer{404, "", ""};
          }) {
        srv.on_refused = [this] { ++refusals; };
        auto p = srv.start("127.0.0.1", 0);
        REQUIRE(p.ok());
        port = *p;
        REQUIRE(port != 0);
    }

    int connect(const char* source = nullptr) const { return irp::test::connect_loopback(port, source); }
};

std::string roundtrip(const Fixture& f, const std::string& request, const char* source = nullptr) {
    return irp::test::roundtrip(f.port, request, source);
}

const std::string kGet = "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

// A connection that has had one answer and stays open (keep-alive): the
// server has certainly counted it.
int kept_open(const Fixture& f) {
    const int fd = f.connect();
    send_all(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    char buf[512];
    const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
    REQUIRE(r > 0);
    CHECK(std::string(buf, static_cast<std::size_t>(r)).rfind("HTTP/1.1 200 OK", 0) == 0);
    return fd;
}

}  // namespace

TEST_CASE("public http: requests are answered, pipelined and with bodies") {
    Fixture f;
    std::string out = roundtrip(f,
                               "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
                               "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n"
                               "GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CAPTURE(out);
    CHECK(count(out, "HTTP/1.1 200 OK\r\n") == 2);
    CHECK(count(out, "GET hi") == 1);
    CHECK(count(out, "HEAD hi") == 0);  // no body in the answer to HEAD
    CHECK(out.find("HTTP/1.1 404 Not Found\r\n") != std::string::npos);
    out = roundtrip(f, "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 3000\r\n\r\n" +
                          std::string(3000, 'b'));
    CHECK(out.find("got 3000") != std::string::npos);
}

TEST_CASE("public http: oversized requests are refused and the server keeps serving") {
    Fixture f;
    std::string out;
    std::string expect;
    SUBCASE("a request line that never ends") {
        out = roundtrip(f, "GET /" + std::string(256 * 1024, 'a'));
        expect = "HTTP/1.1 414 ";
    }
    SUBCASE("too many header bytes") {
        std::string req = "GET /hello HTTP/1.1\r\n";
        for (int i = 0; i < 300; ++i) req += "X-Filler-" + std::to_string(i) + ": 0123456789abcdef0123456789abcdef\r\n";
        out = roundtrip(f, req + "\r\n");
        expect = "HTTP/1.1 431 ";
    }
    SUBCASE("a declared body past the bound: refused before it is read") {
        out = roundtrip(f, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n");
        expect = "HTTP/1.1 413 ";
        CHECK(out.find("\"code\":100") != std::string::npos);
    }
    CAPTURE(out.substr(0, 300));
    CHECK(out.rfind(expect, 0) == 0);
    CHECK(roundtrip(f, kGet).rfind("HTTP/1.1 200 OK", 0) == 0);
}

TEST_CASE("public http: a silent connection is closed after the idle timeout") {
    Fixture f(small_limits(1));
    const int fd = f.connect();
    send_all(fd, "GET /hel");  // and nothing more
    const auto t0 = Clock::now();
    char c;
    const ssize_t r = ::recv(fd, &c, 1, 0);  // SO_RCVTIMEO 3 s
    const auto waited = Clock::now() - t0;
    ::close(fd);
    CHECK(r <= 0);
    CHECK(waited >= std::chrono::milliseconds(500));
    CHECK(waited < std::chrono::milliseconds(2900));  // closed by the server, not our receive timeout
}

TEST_CASE("public http: one source address has at most max_per_source connections") {
    Fixture f;
    std::vector<int> idle{kept_open(f), kept_open(f)};

    const auto t0 = Clock::now();
    std::string out = roundtrip(f, kGet);
    CAPTURE(out);
    CHECK(out.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0) == 0);
    CHECK(out.find("Retry-After: 1\r\n") != std::string::npos);
    CHECK(out.find("\"code\":503") != std::string::npos);
    CHECK(out.find("\"name\":\"too_many_connections\"") != std::string::npos);
    CHECK(Clock::now() - t0 < std::chrono::seconds(1));
    CHECK(f.refusals == 1);

    // Another address is not affected.
    CHECK(roundtrip(f, kGet, "127.0.0.2").rfind("HTTP/1.1 200 OK", 0) == 0);

    // When one of the two ends, the address gets a connection again.
    ::close(idle.back());
    idle.pop_back();
    bool served = false;
    for (int i = 0; i < 40 && !served; ++i) {
        served = roundtrip(f, kGet).rfind("HTTP/1.1 200 OK", 0) == 0;
        if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(served);

    // A bound lowered while serving counts the connection already open; 0
    // lifts it.
    const int before = f.refusals;
    f.srv.set_max_per_source(1);
    CHECK(roundtrip(f, kGet).rfind("HTTP/1.1 503", 0) == 0);
    CHECK(f.refusals == before + 1);
    f.srv.set_max_per_source(0);
    CHECK(roundtrip(f, kGet).rfind("HTTP/1.1 200 OK", 0) == 0);
    for (int fd : idle) ::close(fd);
}

TEST_CASE("public http: hundreds of slow peers do not delay another's request") {
    Fixture f;
    // 50 addresses, each with its 2 connections holding a request half-sent:
    // a thread per connection would need 100 threads to answer anyone else.
    std::vector<int> slow;
    for (int a = 1; a <= 50; ++a) {
        const std::string source = "127.0.1." + std::to_string(a);
        for (int i = 0; i < 2; ++i) {
            slow.push_back(f.connect(source.c_str()));
            send_all(slow.back(), "GET /hello HTTP/1.1\r\nHost:");
        }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const auto t0 = Clock::now();
    CHECK(roundtrip(f, kGet, "127.0.0.2").rfind("HTTP/1.1 200 OK", 0) == 0);
    CHECK(Clock::now() - t0 < std::chrono::milliseconds(500));
    for (int fd : slow) ::close(fd);
}

TEST_CASE("public http: connections beyond the bound cannot pile up") {
    Fixture f;
    std::vector<int> fds{kept_open(f), kept_open(f)};
    // Four more, silent: over the bound, each waits for its request head
    // (at most 1 s) to answer it 503.
    for (int i = 0; i < 4; ++i) fds.push_back(f.connect());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    // Beyond those: closed at accept, no answer.
    CHECK(roundtrip(f, kGet).empty());
    CHECK(f.refusals >= 1);
    // The silent ones are closed after their second; then the address has
    // room for 503 answers again (its two served connections are still open).
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    CHECK(roundtrip(f, kGet).rfind("HTTP/1.1 503", 0) == 0);
    CHECK(roundtrip(f, kGet, "127.0.0.2").rfind("HTTP/1.1 200 OK", 0) == 0);
    for (int fd : fds) ::close(fd);
}
