// The device rights extension (include/irp/crypto/rights.hpp) on Botan 2:
// DER_Encoder to write it, BER_Decoder to read it back, bounded.
#include <botan/asn1_obj.h>
#include <botan/ber_dec.h>
#include <botan/der_enc.h>

#include <algorithm>
#include <exception>

#include "irp/crypto/rights.hpp"

namespace irp::crypto {

namespace {

// 64 rights of 4 + (2 + 64) + (3 + 128) bytes each, plus the outer header:
// anything longer cannot be a valid IrpRights.
constexpr std::size_t kMaxRightsDerBytes = 16 * 1024;

bool action_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

bool printable_no_space(char c) { return c > 0x20 && c < 0x7f; }

// Thrown inside decode_rights only, and caught there.
struct Malformed {
    std::string what;
};

std::string utf8_string(const Botan::BER_Object& o, const char* field) {
    if (!o.is_a(Botan::UTF8_STRING, Botan::UNIVERSAL))
        throw Malformed{std::string(field) + " is not a UTF8String"};
    return std::string(reinterpret_cast<const char*>(o.bits()), o.length());
}

}  // namespace

std::string right_problem(const Right& r) {
    if (r.action.empty() || r.action.size() > kMaxRightActionBytes)
        return "a right's action is not 1 to " + std::to_string(kMaxRightActionBytes) + " bytes long";
    if (r.action != "*" && !std::all_of(r.action.begin(), r.action.end(), action_char))
        return "a right's action is not \"*\" and has characters outside [a-z0-9._-]";
    if (r.target.empty() || r.target.size() > kMaxRightTargetBytes)
        return "a right's target is not 1 to " + std::to_string(kMaxRightTargetBytes) + " bytes long";
    if (!std::all_of(r.target.begin(), r.target.end(), printable_no_space))
        return "a right's target has characters outside printable ASCII (or a space)";
    const auto star = r.target.find('*');
    if (star != std::string::npos && star + 1 != r.target.size())
        return "a right's target has '*' other than as its last character";
    return {};
}

Result<Bytes> encode_rights(const std::vector<Right>& rights) {
    if (rights.empty()) return make_error(Code::bad_argument, "a rights extension needs at least one right");
    if (rights.size() > kMaxRights)
        return make_error(Code::bad_argument, "more than " + std::to_string(kMaxRights) + " rights (" +
                                                  std::to_string(rights.size()) + ")");
    for (const auto& r : rights)
        if (auto problem = right_problem(r); !problem.empty()) return make_error(Code::bad_argument, problem);
    try {
        Bytes out;
        Botan::DER_Encoder der(out);
        der.start_cons(Botan::SEQUENCE);
        for (const auto& r : rights)
            der.start_cons(Botan::SEQUENCE)
                .add_object(Botan::UTF8_STRING, Botan::UNIVERSAL, r.action)
                .add_object(Botan::UTF8_STRING, Botan::UNIVERSAL, r.target)
                .end_cons();
        der.end_cons();
        return out;
    } catch (const std::exception& e) {
        return make_error(Code::internal, std::string("cannot encode rights: ") + e.what());
    }
}

Result<std::vector<Right>> decode_rights(ByteView der) {
    auto malformed = [](const std::string& what) {
        return make_error(Code::malformed_message, "rights extension: " + what);
    };
    if (der.empty()) return malformed("empty");
    if (der.size() > kMaxRightsDerBytes)
        return malformed("larger than " + std::to_string(kMaxRightsDerBytes) + " bytes");
    std::vector<Right> out;
    try {
        Botan::BER_Decoder top(der.data(), der.size());
        const auto list = top.get_next_object();
        if (!list.is_a(Botan::SEQUENCE, Botan::CONSTRUCTED)) throw Malformed{"IrpRights is not a SEQUENCE"};
        if (top.more_items()) throw Malformed{"trailing data after IrpRights"};
        Botan::BER_Decoder items(list);
        while (items.more_items()) {
            if (out.size() == kMaxRights) throw Malformed{"more than " + std::to_string(kMaxRights) + " rights"};
            const auto item = items.get_next_object();
            if (!item.is_a(Botan::SEQUENCE, Botan::CONSTRUCTED)) throw Malformed{"an IrpRight is not a SEQUENCE"};
            Botan::BER_Decoder fields(item);
            Right r;
            r.action = utf8_string(fields.get_next_object(), "action");
            r.target = utf8_string(fields.get_next_object(), "target");
            if (fields.more_items()) throw Malformed{"trailing data in an IrpRight"};
            if (auto problem = right_problem(r); !problem.empty()) throw Malformed{problem};
            out.push_back(std::move(r));
        }
        if (out.empty()) throw Malformed{"no rights (SIZE (1..64))"};
    } catch (const Malformed& m) {
        return malformed(m.what);
    } catch (const std::exception& e) {
        return malformed(std::string("does not decode: ") + e.what());
    } catch (...) {
        return malformed("does not decode");
    }
    // BER allows other encodings of the same value (long-form lengths,
    // indefinite lengths); DER allows one. Re-encoding must give the input.
    const auto again = encode_rights(out);
    if (!again || !std::equal(again->begin(), again->end(), der.begin(), der.end()))
        return malformed("not DER-encoded");
    return out;
}

bool rights_allow(const std::vector<Right>& rights, std::string_view action, std::string_view target) {
    if (action.empty() || target.empty()) return false;
    for (const auto& r : rights) {
        if (!right_problem(r).empty()) continue;  // only hand-made rights can be ill-formed
        if (r.action != "*" && r.action != action) continue;
        if (r.target == target) return true;
        if (r.target.back() == '*' &&
            target.starts_with(std::string_view(r.target).substr(0, r.target.size() - 1)))
            return true;
    }
    return false;
}

}  // namespace irp::crypto
