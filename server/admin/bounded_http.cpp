#include "admin/bounded_http.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <string>

#include "admin/error_body.hpp"

namespace irp::server::admin {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Waits until `until` for `events` on `fd`, in slices, giving up early once
// the server is stopping (cpp-httplib invalidates its listening socket).
bool wait_until(int fd, short events, Clock::time_point until, const std::atomic<socket_t>& server_socket) {
    for (;;) {
        const auto now = Clock::now();
        if (now >= until || server_socket == INVALID_SOCKET) return false;
        const auto slice = std::min<long long>(std::chrono::ceil<milliseconds>(until - now).count(), 200);
        pollfd p{fd, events, 0};
        const int r = ::poll(&p, 1, static_cast<int>(slice));
        if (r > 0) return true;
        if (r < 0 && errno != EINTR) return false;
    }
}

bool wait_for(int fd, short events, milliseconds timeout, const std::atomic<socket_t>& server_socket) {
    return wait_until(fd, events, Clock::now() + timeout, server_socket);
}

std::string address_of(const sockaddr_storage& ss, int& port) {
    char text[INET6_ADDRSTRLEN] = {};
    if (ss.ss_family == AF_INET) {
        const auto& a = reinterpret_cast<const sockaddr_in&>(ss);
        ::inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
        port = ntohs(a.sin_port);
    } else if (ss.ss_family == AF_INET6) {
        const auto& a = reinterpret_cast<const sockaddr_in6&>(ss);
        ::inet_ntop(AF_INET6, &a.sin6_addr, text, sizeof text);
        port = ntohs(a.sin6_port);
    }
    return text;
}

// The socket as cpp-httplib sees it: buffered reads, and the two bounds of
// bounded_http.hpp counted over exactly the bytes handed to the parser.
class BoundedStream final : public httplib::Stream {
public:
    BoundedStream(int fd, const HttpLimits& limits, milliseconds read_timeout, milliseconds write_timeout,
                  const std::atomic<socket_t>& server_socket)
        : fd_(fd), limits_(limits), read_timeout_(read_timeout), write_timeout_(write_timeout),
          server_socket_(server_socket) {}

    // A new request starts: its head is counted afresh and its deadline runs
    // from now. Bytes already buffered (a pipelined request) belong to it.
    void start_request() {
        in_head_ = true;
        saw_line_ = false;
        head_bytes_ = 0;
        line_chars_ = 0;
        deadline_ = Clock::now() + limits_.request_deadline;
    }
    bool refused() const { return refused_; }
    bool buffered() const { return off_ < len_; }

    bool is_readable() const override {
        return buffered() || (!refused_ && wait_until(fd_, POLLIN, read_until(), server_socket_));
    }
    bool is_writable() const override { return !refused_ && wait_for(fd_, POLLOUT, write_timeout_, server_socket_); }

    ssize_t read(char* ptr, size_t size) override {
        if (refused_ || size == 0) return -1;
        if (!buffered() && !fill()) return -1;
        std::size_t n = std::min(size, len_ - off_);
        if (in_head_ && !scan_head(n)) return -1;
        std::memcpy(ptr, buf_ + off_, n);
        off_ += n;
        return static_cast<ssize_t>(n);
    }

    ssize_t write(const char* ptr, size_t size) override {
        if (refused_) return -1;  // nothing after our own 408/431
        return send_some(ptr, size);
    }

    void get_remote_ip_and_port(std::string& ip, int& port) const override {
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) ip = address_of(ss, port);
    }
    void get_local_ip_and_port(std::string& ip, int& port) const override {
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) ip = address_of(ss, port);
    }
    socket_t socket() const override { return fd_; }

private:
    // A read waits for the read timeout, but not past the request's deadline.
    Clock::time_point read_until() const { return std::min(Clock::now() + read_timeout_, deadline_); }

    // Reads what the peer has sent, within the read timeout and the
    // request's deadline.
    bool fill() {
        for (;;) {
            if (Clock::now() >= deadline_) {
                refuse(408, "Request Timeout", Code::deadline_exceeded,
                       "the request did not arrive within " + std::to_string(limits_.request_deadline.count()) +
                           " ms");
                return false;
            }
            if (!wait_until(fd_, POLLIN, read_until(), server_socket_)) {
                if (Clock::now() >= deadline_) continue;  // the deadline, not the read timeout: say so
                return false;  // idle peer or stopping server: as cpp-httplib does
            }
            const ssize_t r = ::recv(fd_, buf_, sizeof buf_, 0);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) return false;
            off_ = 0;
            len_ = static_cast<std::size_t>(r);
            return true;
        }
    }

    // Counts the next `n` buffered bytes into the head; stops `n` at the
    // empty line that ends it. False when the head grows past its bound.
    bool scan_head(std::size_t& n) {
        for (std::size_t i = 0; i < n; ++i) {
            const char c = buf_[off_ + i];
            if (++head_bytes_ > limits_.max_head) {
                refuse(431, "Request Header Fields Too Large", Code::frame_too_large,
                       "the request line and header fields exceed " + std::to_string(limits_.max_head) + " bytes");
                return false;
            }
            if (c == '\n') {
                if (line_chars_ == 0 && saw_line_) {  // the empty line: the body (if any) follows
                    in_head_ = false;
                    n = i + 1;
                    return true;
                }
                saw_line_ = saw_line_ || line_chars_ > 0;
                line_chars_ = 0;
            } else if (c != '\r') {
                ++line_chars_;
            }
        }
        return true;
    }

    ssize_t send_some(const char* ptr, std::size_t size) {
        if (!wait_for(fd_, POLLOUT, write_timeout_, server_socket_)) return -1;
        for (;;) {
            const ssize_t r = ::send(fd_, ptr, size, MSG_NOSIGNAL);
            if (r < 0 && errno == EINTR) continue;
            return r;
        }
    }

    // Answers with `status` and a JSON error like the admin API's, once;
    // the connection is closed afterwards.
    void refuse(int status, const char* reason, Code code, const std::string& message) {
        if (refused_) return;
        const std::string body = error_body(code, message).dump();
        const std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason +
                                "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                                "\r\nConnection: close\r\n\r\n" + body;
        for (std::size_t sent = 0; sent < out.size();) {
            const ssize_t r = send_some(out.data() + sent, out.size() - sent);
            if (r <= 0) break;
            sent += static_cast<std::size_t>(r);
        }
        refused_ = true;
    }

    int fd_;
    const HttpLimits& limits_;
    milliseconds read_timeout_, write_timeout_;
    const std::atomic<socket_t>& server_socket_;
    char buf_[4096];
    std::size_t off_ = 0, len_ = 0;
    bool in_head_ = true, saw_line_ = false, refused_ = false;
    std::size_t head_bytes_ = 0, line_chars_ = 0;
    Clock::time_point deadline_ = Clock::now();
};

// After a refusal the peer may still be sending. Closing a socket with
// unread data makes the kernel send a reset, which can destroy our answer
// before the peer reads it; so stop writing, and read and drop what comes
// for a short, bounded while (a lingering close).
void linger_close(int fd) {
    ::shutdown(fd, SHUT_WR);
    char sink[4096];
    std::size_t dropped = 0;
    const auto until = Clock::now() + milliseconds(1000);
    while (dropped < 256 * 1024 && Clock::now() < until) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        const ssize_t r = ::recv(fd, sink, sizeof sink, 0);
        if (r <= 0) break;
        dropped += static_cast<std::size_t>(r);
    }
}

}  // namespace

// cpp-httplib's own loop (process_server_socket), with our stream: up to
// keep_alive_max_count requests, each within the limits, while the peer
// starts the next one within the keep-alive timeout.
bool BoundedHttpServer::process_and_close_socket(socket_t sock) {
    const milliseconds read_timeout(read_timeout_sec_ * 1000 + read_timeout_usec_ / 1000);
    const milliseconds write_timeout(write_timeout_sec_ * 1000 + write_timeout_usec_ / 1000);
    BoundedStream strm(sock, limits_, read_timeout, write_timeout, svr_sock_);
    bool ok = false;
    for (std::size_t left = keep_alive_max_count_; left > 0; --left) {
        if (!strm.buffered() &&
            !wait_for(sock, POLLIN, milliseconds(keep_alive_timeout_sec_ * 1000), svr_sock_))
            break;
        strm.start_request();
        bool closed = false;
        ok = process_request(strm, left == 1, closed, nullptr);
        if (!ok || closed || strm.refused()) break;
    }
    if (strm.refused()) linger_close(sock);
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return ok;
}

}  // namespace irp::server::admin
