// The advertiser of a build without Avahi (IRP_WITH_AVAHI=OFF, or
// libavahi-client-dev not found): it only says so. irp-server refuses to
// start when [discovery] mdns asks for it (README.md).
#include "discovery/mdns_advertiser.hpp"


namespace irp::server {

struct MdnsAdvertiser::Impl {};

bool MdnsAdvertiser::supported() { return false; }

MdnsAdvertiser::MdnsAdvertiser(MdnsAdvertisement, MdnsLog) {}

MdnsAdvertiser::~MdnsAdvertiser() = default;

Result<void> MdnsAdvertiser::start() {
    return make_error(Code::config_invalid,
                      "discovery.mdns is on, but this irp-server was built without mDNS (Avahi) support: rebuild "
                      "with libavahi-client-dev installed (-DIRP_WITH_AVAHI=ON), or set discovery.mdns = false");
}

void MdnsAdvertiser::stop() {}

}  // namespace irp::server
