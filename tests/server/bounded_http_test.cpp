// BoundedHttpServer (server/admin/bounded_http.hpp): cpp-httplib with a
// bound on each request's head and a deadline on each request, over real
// loopback sockets. Small limits keep the cases fast.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "admin/bounded_http.hpp"
#include "raw_http.hpp"

namespace {

using irp::server::admin::BoundedHttpServer;
using irp::test::count;
using irp::test::read_all;
using irp::test::send_all;
using irp::server::admin::HttpLimits;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxHead = 1024;
constexpr std::chrono::milliseconds kDeadline{600};
constexpr std::size_t kThreads = 12;

struct Fixture {
    BoundedHttpServer srv{HttpLimits{kMaxHead, kDeadline, kThreads}};
    std::thread th;
    int port = -1;

    Fixture() {
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

    int connect() const { return irp::test::connect_loopback(port); }
};

std::string exchange(const Fixture& f, const std::string& request) { return irp::test::roundtrip(f.port, request); }

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
