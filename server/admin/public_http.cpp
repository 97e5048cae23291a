#include "admin/public_http.hpp"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "admin/error_body.hpp"

namespace irp::server::admin {

PublicAnswer public_error(int status, Code code, const std::string& message) {
    return PublicAnswer{
        status, "application/json",
        error_body(code, message).dump()};
}

namespace {

// What max_per_source counts by: the IPv4 address, or the IPv6 /64 (one
// host usually has a whole /64 to pick addresses from).
std::string source_key(const sockaddr* sa) {
    char text[INET6_ADDRSTRLEN] = {};
    if (sa && sa->sa_family == AF_INET) {
        ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, text, sizeof text);
    } else if (sa && sa->sa_family == AF_INET6) {
        in6_addr a = reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
        if (!IN6_IS_ADDR_V4MAPPED(&a)) std::memset(a.s6_addr + 8, 0, 8);
        ::inet_ntop(AF_INET6, &a, text, sizeof text);
    }
    return text;
}

struct ConnectionState {  // MHD's socket context, one per connection
    std::string source;
    bool over = false;  // beyond max_per_source: its first request gets 503
};

// Connections open per source: `open` are served; `over` wait for their 503.
struct SourceCount {
    std::size_t open = 0, over = 0;
};

// How many connections beyond max_per_source a source may have waiting for
// their 503; any more are closed at accept, without an answer.
constexpr std::size_t kOverMargin = 4;
// An over-bound connection has this long (s) to send its request head.
constexpr unsigned kOverTimeoutS = 1;

struct RequestState {  // MHD's request context, one per request
    std::string body;
};

MHD_Result queue(MHD_Connection* c, const PublicAnswer& a, bool close) {
    MHD_Response* r =
        MHD_create_response_from_buffer(a.body.size(), const_cast<char*>(a.body.data()), MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    if (!a.content_type.empty()) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, a.content_type.c_str());
    for (const auto& [k, v] : a.headers) MHD_add_response_header(r, k.c_str(), v.c_str());
    if (close) MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    const MHD_Result ret = MHD_queue_response(c, static_cast<unsigned>(a.status), r);
    MHD_destroy_response(r);
    return ret;
}

}  // namespace

struct PublicHttpServer::Impl {
    Impl(PublicHttpLimits l, PublicHandler h, PublicHttpServer& o)
        : limits(l), handler(std::move(h)), owner(o), max_per_source(l.max_per_source) {}

    PublicHttpLimits limits;
    PublicHandler handler;
    PublicHttpServer& owner;
    std::atomic<std::size_t> max_per_source;
    std::mutex mu;
    std::unordered_map<std::string, SourceCount> sources;
    MHD_Daemon* daemon = nullptr;
    std::string last_log;  // MHD's last message, for start()'s error

    // At accept: a source with its share open and kOverMargin more waiting
    // for their 503 is closed at once. (MHD counts a connection a moment
    // after this check, so a burst may pass by up to one per thread.)
    static MHD_Result accept_policy(void* cls, const sockaddr* addr, socklen_t) {
        auto& self = *static_cast<Impl*>(cls);
        const std::size_t cap = self.max_per_source;
        if (cap == 0) return MHD_YES;
        std::lock_guard lk(self.mu);
        auto it = self.sources.find(source_key(addr));
        if (it == self.sources.end() || it->second.open + it->second.over < cap + kOverMargin) return MHD_YES;
        if (self.owner.on_refused) self.owner.on_refused();
        return MHD_NO;
    }

    // A connection opens or closes: count it against its source.
    static void notify(void* cls, MHD_Connection* c, void** socket_context, MHD_ConnectionNotificationCode code) {
        auto& self = *static_cast<Impl*>(cls);
        if (code == MHD_CONNECTION_NOTIFY_STARTED) {
            const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
            auto* st = new ConnectionState{source_key(info ? info->client_addr : nullptr)};
            const std::size_t cap = self.max_per_source;
            {
                std::lock_guard lk(self.mu);
                auto& n = self.sources[st->source];
                st->over = cap > 0 && n.open >= cap;
                ++(st->over ? n.over : n.open);
            }
            if (st->over) MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, kOverTimeoutS);
            *socket_context = st;
            return;
        }
        auto* st = static_cast<ConnectionState*>(*socket_context);
        *socket_context = nullptr;
        if (!st) return;
        {
            std::lock_guard lk(self.mu);
            auto it = self.sources.find(st->source);
            if (it != self.sources.end()) {
                --(st->over ? it->second.over : it->second.open);
                if (it->second.open + it->second.over == 0) self.sources.erase(it);
            }
        }
        delete st;
    }

    static void log(void* cls, const char* fmt, va_list ap) {
        char text[512];
        std::vsnprintf(text, sizeof text, fmt, ap);
        auto& self = *static_cast<Impl*>(cls);
        std::lock_guard lk(self.mu);
        self.last_log = text;
        while (!self.last_log.empty() && (self.last_log.back() == '\n' || self.last_log.back() == '\r'))
            self.last_log.pop_back();
    }

    // MHD calls this once when a request's head has arrived, then once per
    // piece of body, then once more with nothing: then the answer is due.
    static MHD_Result access(void* cls, MHD_Connection* c, const char* url, const char* method, const char*,
                             const char* upload, size_t* upload_size, void** req_cls) {
        auto& self = *static_cast<Impl*>(cls);
        if (!*req_cls) {
            const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
            const auto* st = info ? static_cast<const ConnectionState*>(info->socket_context) : nullptr;
            if (st && st->over) {
                if (self.owner.on_refused) self.owner.on_refused();
                auto a = public_error(503, Code::too_many_connections,
                                      "this address has " + std::to_string(self.max_per_source.load()) +
                                          " connections open here already; retry after one ends");
                a.headers.emplace_back("Retry-After", "1");
                return queue(c, a, true);
            }
            // A declared body over the bound is refused before it is read.
            const char* length = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
            if (length && std::strtoull(length, nullptr, 10) > self.limits.max_body)
                return queue(c,
                             public_error(413, Code::frame_too_large,
                                          "the request body exceeds " + std::to_string(self.limits.max_body) + " bytes"),
                             true);
            *req_cls = new RequestState;
            return MHD_YES;
        }
        auto& rs = *static_cast<RequestState*>(*req_cls);
        if (*upload_size > 0) {
            // A chunked body that grows past the bound: closed without an
            // answer (libmicrohttpd 0.9.75 sends none queued mid-body).
            if (rs.body.size() + *upload_size > self.limits.max_body) return MHD_NO;
            rs.body.append(upload, *upload_size);
            *upload_size = 0;
            return MHD_YES;
        }
        PublicAnswer a;
        try {
            a = self.handler(method, url, rs.body);
        } catch (...) {
            a = public_error(500, Code::internal, "internal error");
        }
        return queue(c, a, false);
    }

    static void completed(void*, MHD_Connection*, void** req_cls, MHD_RequestTerminationCode) {
        delete static_cast<RequestState*>(*req_cls);
        *req_cls = nullptr;
    }
};

PublicHttpServer::PublicHttpServer(PublicHttpLimits limits, PublicHandler handler)
    : impl_(std::make_unique<Impl>(limits, std::move(handler), *this)) {}

PublicHttpServer::~PublicHttpServer() { stop(); }

Result<std::uint16_t> PublicHttpServer::start(const std::string& host, std::uint16_t port) {
    // A name or an address, as the config allows (the first address it
    // resolves to).
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    addrinfo* res = nullptr;
    const std::string service = std::to_string(port);
    if (const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0 || !res)
        return make_error(Code::bad_argument, "cannot listen on " + host + ":" + service + ": " + ::gai_strerror(rc));
    sockaddr_storage ss{};
    std::memcpy(&ss, res->ai_addr, std::min<std::size_t>(res->ai_addrlen, sizeof ss));
    ::freeaddrinfo(res);
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6) flags |= MHD_USE_DUAL_STACK;  // as the kernel's default: IPv4 too

    auto& i = *impl_;
    i.daemon = MHD_start_daemon(
        flags, port, &Impl::accept_policy, &i, &Impl::access, &i,               //
        MHD_OPTION_SOCK_ADDR, reinterpret_cast<sockaddr*>(&ss),                 //
        MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,                                 //
        MHD_OPTION_THREAD_POOL_SIZE, i.limits.threads,                          //
        MHD_OPTION_CONNECTION_LIMIT, i.limits.max_connections,                  //
        MHD_OPTION_CONNECTION_TIMEOUT, i.limits.idle_timeout_s,                 //
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, i.limits.connection_memory,         //
        MHD_OPTION_NOTIFY_CONNECTION, &Impl::notify, &i,                        //
        MHD_OPTION_NOTIFY_COMPLETED, &Impl::completed, &i,                      //
        MHD_OPTION_EXTERNAL_LOGGER, &Impl::log, &i,                             //
        MHD_OPTION_END);
    if (!i.daemon) {
        std::lock_guard lk(i.mu);
        return make_error(Code::bad_argument,
                          "cannot listen on " + host + ":" + service + (i.last_log.empty() ? "" : ": " + i.last_log));
    }
    const MHD_DaemonInfo* info = MHD_get_daemon_info(i.daemon, MHD_DAEMON_INFO_BIND_PORT);
    return static_cast<std::uint16_t>(info ? info->port : port);
}

void PublicHttpServer::stop() {
    if (impl_ && impl_->daemon) {
        MHD_stop_daemon(impl_->daemon);
        impl_->daemon = nullptr;
    }
}

void PublicHttpServer::set_max_per_source(std::size_t n) { impl_->max_per_source = n; }

}  // namespace irp::server::admin
