// IDWallet: the device side of IRP. Generates the key pair on the device
// (in software, or inside a PKCS#11 token: Storage::generate_key),
// runs an enrollment or renewal over a Transport, validates what comes back
// (numbered install errors, docs/PROTOCOL.md "Install errors"), installs it
// atomically through a Storage, and confirms the install to the server.
//
// The wallet core does no I/O of its own: transport, storage, clock and
// entropy come from the caller, so firmware can plug in its own.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "irp/base/bytes.hpp"
#include "irp/base/error.hpp"
#include "irp/core/limits.hpp"
#include "irp/core/messages.hpp"
#include "irp/crypto/crypto.hpp"
#include "irp/crypto/revocation.hpp"

namespace irp::wallet {

// A connected, authenticated channel to the server (TLS in practice).
class Transport {
public:
    virtual ~Transport() = default;
    virtual Result<void> send(ByteView data) = 0;
    // At least one byte, or an error (deadline_exceeded, connection_closed).
    virtual Result<Bytes> receive(Time timeout) = 0;
    // RFC 5705 exporter output for this connection (transcript binding).
    virtual Bytes channel_binding() = 0;
};

// What the device holds after an install.
struct Credentials {
    std::shared_ptr<const crypto::PrivateKey> key;
    Bytes certificate;         // DER leaf
    std::vector<Bytes> chain;  // DER: issuing CA first, root last
};

// An enrollment the server holds for approval: the key it was asked for
// must survive until the answer (a restart included), or the approval would
// be for a key the device no longer has.
struct PendingEnrollment {
    std::shared_ptr<const crypto::PrivateKey> key;
    std::string request_id;
    std::string device_id;
    std::string class_id;
};

class Storage {
public:
    virtual ~Storage() = default;
    // Atomic: afterwards the old pair or the new pair is installed, never a mix.
    virtual Result<void> install(const Credentials& c) = 0;
    virtual Result<std::optional<Credentials>> load() = 0;
    // A held enrollment (one at a time); cleared once answered for good.
    virtual Result<void> save_pending(const PendingEnrollment& p) = 0;
    virtual Result<std::optional<PendingEnrollment>> load_pending() = 0;
    virtual Result<void> clear_pending() = 0;
    // The domain's CRL (DER, as its CA signed it), checked by the wallet
    // before it is saved. Atomic: afterwards the old or the new CRL is held.
    virtual Result<void> save_crl(ByteView der) = 0;
    virtual Result<std::optional<Bytes>> load_crl() = 0;
    // Factory reset: key, certificate, any held enrollment and the CRL are
    // gone.
    virtual Result<void> wipe() = 0;

    // A new key pair for an enrollment or a renewal. The default makes a
    // software key (crypto::PrivateKey::generate); a store whose keys live
    // in a PKCS#11 token generates it there.
    virtual Result<std::shared_ptr<const crypto::PrivateKey>> generate_key(KeyAlgorithm alg, crypto::Random& rng);
    // A key from generate_key that was neither installed nor held: the
    // exchange failed or was refused. The default does nothing (a software
    // key is simply forgotten); a token store destroys it in the token.
    virtual void discard_key(const crypto::PrivateKey& key);
};

struct Clock {
    std::function<Time()> monotonic;         // for deadlines
    std::function<std::int64_t()> unix_now;  // for certificate validity
};

struct InstallFailure {
    InstallStatus status = InstallStatus::malformed_certificate;
    std::string message;
};

struct Expectation {
    std::string device_id;
    std::string domain;
    Bytes public_key;  // SubjectPublicKeyInfo of the key we generated
    std::vector<Bytes> trusted_roots;
    std::int64_t now = 0;
};

// Checks an Issued answer in the order of the install-error table; the
// first failed check is returned.
std::optional<InstallFailure> validate_issued(const Issued& issued, const Expectation& expect);

struct Outcome {
    enum class Kind { installed, rejected, pending, redirect, invalid, checked_in };
    Kind kind = Kind::rejected;
    std::string request_id;
    Error rejection;                      // rejected: the server's code and sentence
    std::optional<InstallFailure> invalid;  // invalid: what the check found
    std::uint32_t retry_after_seconds = 0;  // pending
    Redirect redirect;                      // redirect
    crypto::CertInfo certificate;           // installed
    bool install_confirmed = false;         // the server recorded the install
    CheckedIn checked_in;                   // checked_in
    // rejected: the server said the device was released, or (check-in) that
    // its certificate is revoked or expired; checked_in: the CRL that came
    // back lists the device's own certificate (`rejection` says so). Either
    // way the wallet wiped its key and certificate (factory reset) and must
    // enroll again, with its new owner.
    bool reset = false;
    // checked_in: a CRL came back (checked_in.crl). It was stored, or refused
    // and not stored (crl_refused says why: identity_mismatch = signed by
    // another CA; malformed_message = not a usable CRL; already_exists = a
    // lower CRL Number than the one held; bad_argument = no issuing CA in
    // the chain to verify it with; file_error = it could not be saved). The
    // check-in itself succeeded either way.
    bool crl_stored{};
    std::int64_t crl_number{};  // of the CRL received
    std::optional<Error> crl_refused{};
};

struct EnrollOptions {
    std::string device_id;
    std::string class_id;
    // How the device proves it belongs (docs/PROTOCOL.md, "Bootstrap
    // methods"): a class token, a bootstrap key (pre-registered; with a
    // chain: a manufacturer certificate, leaf first), or nothing (the
    // server may hold the request for approval).
    Bytes token;  // the bootstrap token burned in at manufacture; empty: none
    std::shared_ptr<const crypto::PrivateKey> bootstrap_key;
    std::vector<Bytes> bootstrap_chain;
    std::string model;  // shown to the approver
    KeyAlgorithm key_algorithm = KeyAlgorithm::ecdsa_p256;
    std::vector<Bytes> trusted_roots;
    Limits limits;
    // Non-empty after a redirect (redirect.hpp): the server must say it
    // serves this domain (ServerHello.domain), or the enrollment stops with
    // identity_mismatch before anything is sent.
    std::string expected_domain{};
};

struct RenewOptions {
    bool same_key = false;  // keep the current key (only if the domain allows it)
    std::vector<Bytes> trusted_roots;
    Limits limits;
};

// Runs one exchange to its end. A Result error means the exchange itself
// failed (transport, TLS, protocol, deadline); server answers and local
// validation failures are Outcomes.
Result<Outcome> enroll(Transport& t, Storage& s, const EnrollOptions& o, crypto::Random& rng, const Clock& clock);
Result<Outcome> renew(Transport& t, Storage& s, const RenewOptions& o, crypto::Random& rng, const Clock& clock);

struct CheckInOptions {
    Limits limits;
    // Ask for the issuing CA's CRL when it is newer than the one held. The
    // largest CRL taken is what limits.max_frame_bytes leaves room for
    // (ClientSession::send_check_in; at most bounds::kMaxCrl).
    bool fetch_crl{true};
};
// Tells the server the device is alive and still holds its certificate's
// key; learns when to check in next and whether to renew now. With
// fetch_crl, also brings the domain's CRL up to date: a CRL that comes back
// is verified against the issuing CA certificate in the wallet's chain,
// must not have a lower CRL Number than the one held from that CA, and is
// then saved (Storage::save_crl). If it lists the device's own certificate
// (any reason but certificateHold) the wallet resets itself as if the
// server had said the certificate is revoked.
Result<Outcome> check_in(Transport& t, Storage& s, const CheckInOptions& o, crypto::Random& rng, const Clock& clock);

// The CRL the wallet holds, for checking peers (irp_rp's
// Verifier::add_crl(der, issuer_ca, now)).
struct HeldCrl {
    Bytes der;        // as the CA signed it
    Bytes issuer_ca;  // DER: the CA certificate in the wallet's chain that signed it
    crypto::CrlInfo info;
};
// nullopt when no CRL is held. The CRL is verified again, against the CA in
// the wallet's chain that issued its certificate: identity_mismatch when it
// no longer matches (the wallet was renewed by another CA since; the next
// check-in replaces it), file_error when the wallet holds no certificate.
// Freshness (nextUpdate) is the caller's to judge.
Result<std::optional<HeldCrl>> held_crl(Storage& s);

// The POSIX store: DIR/device.key (PKCS#8 PEM, 0600) and DIR/device.crt
// (leaf then chain, PEM), installed by write-temp/fsync/rename with
// roll-forward recovery of an interrupted install; a held enrollment in
// DIR/pending.key (0600) and DIR/pending.id; the CRL in DIR/crl.der
// (write-temp/fsync/rename).
//
// Keys in a PKCS#11 token (use_token_keys): device.key and pending.key then
// hold one line, the key's PKCS#11 URI (PrivateKey::pkcs11_uri: token,
// object, id, module-path, pin-source), and nothing secret; the key is
// loaded from the token with the PIN read from the pin-source file (else
// the environment variable IRP_PKCS11_PIN, else no login). The store owns
// the token keys it made or was given: DIR/pkcs11.keys lists them (one URI
// a line; a key is listed before it is generated), and every change of
// device.key or pending.key (install, save_pending, clear_pending, wipe,
// discard_key) destroys the listed keys that no key file names any more:
// the old key after a renewal with a new one, a key refused or given up,
// every key at a factory reset, a key generated just before a crash. A key
// the token cannot destroy now stays listed for the next time. Stores on
// one directory (processes) coordinate with flock(2): a store holds a
// shared lock on DIR/.keys-in-flight from generate_key until the key is
// installed, held or discarded, and a sweep that cannot lock it exclusively
// is skipped (a later change sweeps); pkcs11.keys is rewritten only under
// an exclusive lock on DIR/.keys-lock. A held request whose token key is
// gone is forgotten by load_pending.
std::unique_ptr<Storage> open_directory_storage(const std::string& dir);

// Where the directory store makes new keys, when not in software.
struct TokenKeyOptions {
    std::string module = {};     // the Cryptoki module; empty: the URI's module-path
    std::string token_uri = {};  // pkcs11:token=LABEL[;serial=S][?pin-source=file:/..&module-path=/..]
    std::string pin_file = {};   // the user PIN (first line); empty: the URI's pin-source
};
// Records in DIR/pkcs11.uri (0600) that the store at `dir` makes its keys
// in that token from now on (enroll and renew alike; a wipe keeps it): the
// token URI with module-path and pin-source, paths made absolute, never
// the PIN itself. Without a pkcs11.uri a store whose current key is in a
// token makes the next one in the same token. bad_argument for a URI that
// names a key, no module; file_error for a missing PIN file or one that
// group or others may access (mode & 077).
Result<void> use_token_keys(const std::string& dir, const TokenKeyOptions& o);

// Credentials in RAM only (tests, benchmarks, firmware with its own persistence).
std::unique_ptr<Storage> open_memory_storage();

}  // namespace irp::wallet
