#include "proxy/tls_context.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>

namespace storegate::proxy {

// TLS 1.2 suites with forward secrecy and AEAD only; TLS 1.3 suites are OpenSSL's defaults.
static constexpr const char* kCipherList =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

static std::string openssl_error(const std::string& what) {
    unsigned long code = ERR_get_error();
    char text[256] = {};
    if (code != 0) {
        ERR_error_string_n(code, text, sizeof(text));
    }
    ERR_clear_error();
    return what + (code != 0 ? std::string(": ") + text : std::string());
}

static void harden(ssl::context& ctx) {
    SSL_CTX* native = ctx.native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    SSL_CTX_set_cipher_list(native, kCipherList);
    SSL_CTX_set_options(
        native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
}

// ALPN (RFC 7301): pick "postgresql" when offered; a client offering only other protocols
// gets no ALPN answer, and direct TLS then refuses it (the session checks).
static int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen,
                       const unsigned char* in, unsigned int inlen, void*) {
    static const unsigned char kWire[] = "\x0apostgresql";
    unsigned char* selected = nullptr;
    int rc = SSL_select_next_proto(&selected, outlen, kWire, sizeof(kWire) - 1, in, inlen);
    if (rc != OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

std::shared_ptr<ssl::context> make_client_tls(const config::TlsConfig& tls, std::string& error) {
    if (!tls.enabled()) {
        return nullptr;
    }
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    harden(*ctx);
    SSL_CTX* native = ctx->native_handle();
    if (SSL_CTX_use_certificate_chain_file(native, tls.cert_file.c_str()) != 1) {
        error = openssl_error("cannot load tls.cert_file " + tls.cert_file);
        return nullptr;
    }
    if (SSL_CTX_use_PrivateKey_file(native, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(native) != 1) {
        error = openssl_error("cannot load tls.key_file " + tls.key_file);
        return nullptr;
    }
    if (!tls.ca_file.empty()) {
        if (SSL_CTX_load_verify_locations(native, tls.ca_file.c_str(), nullptr) != 1) {
            error = openssl_error("cannot load tls.ca_file " + tls.ca_file);
            return nullptr;
        }
        // Asked for, not demanded: password users need no certificate; auth.type = cert
        // refuses a session without a verified one.
        SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
        SSL_CTX_set_client_CA_list(native, SSL_load_client_CA_file(tls.ca_file.c_str()));
    }
    SSL_CTX_set_alpn_select_cb(native, select_alpn, nullptr);
    SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
    return ctx;
}

BackendTls make_backend_tls(const config::TlsConfig& tls, std::string& error) {
    BackendTls out;
    out.unverified = std::make_shared<ssl::context>(ssl::context::tls_client);
    harden(*out.unverified);
    out.unverified->set_verify_mode(ssl::verify_none);
    out.verified = std::make_shared<ssl::context>(ssl::context::tls_client);
    harden(*out.verified);
    out.verified->set_verify_mode(ssl::verify_peer);
    SSL_CTX* native = out.verified->native_handle();
    int loaded = tls.server_ca_file.empty()
                     ? SSL_CTX_set_default_verify_paths(native)
                     : SSL_CTX_load_verify_locations(native, tls.server_ca_file.c_str(), nullptr);
    if (loaded != 1) {
        error = openssl_error("cannot load tls.server_ca_file " + tls.server_ca_file);
    }
    return out;
}

std::string server_end_point(SSL* ssl) {
    X509* cert = SSL_get_certificate(ssl);
    if (cert == nullptr) {
        return {};
    }
    int md_nid = NID_undef;
    if (OBJ_find_sigid_algs(X509_get_signature_nid(cert), &md_nid, nullptr) != 1) {
        return {};
    }
    const EVP_MD* md =
        (md_nid == NID_md5 || md_nid == NID_sha1) ? EVP_sha256() : EVP_get_digestbynid(md_nid);
    if (md == nullptr) {
        return {};
    }
    unsigned char hash[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (X509_digest(cert, md, hash, &len) != 1) {
        return {};
    }
    return std::string(reinterpret_cast<char*>(hash), len);
}

std::string requested_server_name(SSL* ssl) {
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    std::string out = name != nullptr ? name : "";
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::string peer_common_name(SSL* ssl) {
    if (SSL_get_verify_result(ssl) != X509_V_OK) {
        return {};
    }
    X509* cert = SSL_get1_peer_certificate(ssl);
    if (cert == nullptr) {
        return {};
    }
    char cn[256] = {};
    int len =
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
    X509_free(cert);
    // A CN with an embedded NUL or longer than the buffer names nobody.
    if (len <= 0 || static_cast<size_t>(len) >= sizeof(cn) ||
        std::string_view(cn).size() != static_cast<size_t>(len)) {
        return {};
    }
    return std::string(cn, static_cast<size_t>(len));
}

bool negotiated_postgresql(SSL* ssl) {
    const unsigned char* data = nullptr;
    unsigned int len = 0;
    SSL_get0_alpn_selected(ssl, &data, &len);
    return data != nullptr &&
           std::string_view(reinterpret_cast<const char*>(data), len) == kAlpnPostgresql;
}

}  // namespace storegate::proxy
