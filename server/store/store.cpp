#include "store/store.hpp"

namespace irp::server {

const char* cert_status_name(CertStatus s) {
    switch (s) {
        case CertStatus::issued: return "issued";
        case CertStatus::installed: return "installed";
        case CertStatus::superseded: return "superseded";
        case CertStatus::install_failed: return "install_failed";
    }
    return "unknown";
}


}  // namespace irp::server
