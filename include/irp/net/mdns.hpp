// Finding an IRP server on the local network without configuration:
// DNS-SD over multicast DNS (RFC 6763, RFC 6762), service type `_irp._tcp`
// in `.local`, through the Avahi daemon. irp-server advertises itself
// (`[discovery] mdns`, server/discovery/); idwallet browses
// (`enroll --discover-local`).
//
// Like an SRV record, an answer is not authenticated: it only says where
// to connect. The TXT record names the domain, and the wallet then uses that
// domain as the TLS server name and as the domain the server must say it
// serves, so a forged answer can at most point at a server that fails to
// prove the domain under the wallet's own roots (docs/PROTOCOL.md,
// "Redirects and discovery").
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "irp/base/error.hpp"

namespace irp::net {

inline constexpr const char* kMdnsServiceType = "_irp._tcp";
// The TXT record's version (RFC 6763, section 6.7: `txtvers`); an answer
// with another version is ignored.
inline constexpr const char* kMdnsTxtVersion = "1";
// A DNS-SD instance name is at most 63 bytes of UTF-8 (RFC 6763, 4.1.1).
inline constexpr std::size_t kMaxMdnsInstanceBytes = 63;
// At most this many TXT strings of one answer are looked at, and answers kept.
inline constexpr std::size_t kMaxMdnsTxtStrings = 64;
inline constexpr std::size_t kMaxMdnsAnswers = 64;

// What a server advertises in its TXT record, in this order:
// "txtvers=1", "domain=<domain>".
std::vector<std::string> irp_txt_record(const std::string& domain);

// The domain an advertisement's TXT strings name. Keys are matched without
// regard to case (RFC 6763, 6.4); unknown keys are ignored. Errors
// (field_invalid, with the reason): no `txtvers`, or one other than 1; no
// `domain`, an empty one, or one that is not a lower-case DNS name of at most
// 253 characters (an IPv4 address is not a domain); `txtvers` or `domain`
// given twice; a string longer than 255 bytes.
Result<std::string> parse_irp_txt(const std::vector<std::string>& txt);

// One resolved instance of _irp._tcp.local, as the daemon reported it.
struct MdnsAnswer {
    std::string instance{};          // the DNS-SD instance name, e.g. "IRP home.example"
    std::string host{};              // its host, e.g. "homeca.local" (for messages)
    std::string address{};           // IPv4 address to connect to
    std::uint16_t port = 0;
    std::vector<std::string> txt{};  // the TXT strings, as received
};

// The servers to try for one domain.
struct MdnsChoice {
    std::string domain{};
    std::vector<std::string> servers{};  // "address:port", each once, in the order answered
    std::vector<std::string> skipped{};  // answers ignored and why, for messages
};

// Chooses among answers. `domain` non-empty: the answers naming it. Empty:
// the answers of the one domain that answered. Errors:
// - deadline_exceeded: no usable answer (none at all, every TXT record
//   invalid, or none of `domain`); the message lists what answered;
// - bad_argument: `domain` is empty and several domains answered; the
//   message lists them (the user must name one).
Result<MdnsChoice> choose_mdns_servers(const std::vector<MdnsAnswer>& answers, const std::string& domain);

// "home.example (IRP home.example at 10.0.0.7:4604)": one answer, for messages.
std::string describe(const MdnsAnswer& a);

// False when this build has no Avahi (IRP_WITH_AVAHI=OFF, or not found):
// browse_irp_mdns then always fails with bad_argument.
bool mdns_supported();

// Browses _irp._tcp.local and resolves each instance's IPv4 address, port
// and TXT record. Ends when the daemon says it has reported everything it
// knows and every answer is resolved, or at `timeout`, whichever comes
// first; an instance that disappears meanwhile is dropped. Errors:
// connection_closed (the Avahi daemon cannot be reached over D-Bus, or the
// browse failed), bad_argument (no mDNS support in this build). An empty
// list is not an error.
Result<std::vector<MdnsAnswer>> browse_irp_mdns(std::chrono::milliseconds timeout);

}  // namespace irp::net
