#include "protocol/scram.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <string>
#include <vector>

namespace storegate::protocol::scram {
namespace {

// RFC 7677 section 3, the example exchange.
constexpr std::string_view kClientNonce = "rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view kServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
constexpr std::string_view kSalt = "W22ZaJ0SNY7soEsUEjb6gQ==";
constexpr std::string_view kClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view kServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr std::string_view kClientFinal =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
constexpr std::string_view kServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

// Made by PostgreSQL 15: CREATE ROLE storeapp PASSWORD 'pencil' with scram-sha-256.
constexpr std::string_view kPostgresVerifier =
    "SCRAM-SHA-256$4096:gniSDxilIKmjqnT8lZy+iQ==$7N4/kN2wEQX0rN4kUNsmdFMpDV8e2JCkbeuKctTN980=:"
    "4TLgSoa5DwbyttW33Yn2RftRxYzUAYBQNmDEaa7EtoY=";

Verifier rfc_verifier() {
    return make_verifier("pencil", *base64_decode(kSalt), 4096);
}

ServerExchange rfc_server() {
    return ServerExchange(rfc_verifier(), std::string(kServerNonce));
}

// ClientProof for the RFC 7677 password and salt over `auth` (RFC 5802 section 3), computed
// here with OpenSSL directly so the binding case can be checked without a binding client.
std::string rfc_client_proof(const std::string& auth) {
    const std::string salt = *base64_decode(kSalt);
    unsigned char salted[32];
    PKCS5_PBKDF2_HMAC("pencil", 6, reinterpret_cast<const unsigned char*>(salt.data()),
                      static_cast<int>(salt.size()), 4096, EVP_sha256(), 32, salted);
    unsigned char client_key[32];
    unsigned int len = 0;
    HMAC(EVP_sha256(), salted, 32, reinterpret_cast<const unsigned char*>("Client Key"), 10,
         client_key, &len);
    unsigned char stored_key[32];
    SHA256(client_key, 32, stored_key);
    unsigned char signature[32];
    HMAC(EVP_sha256(), stored_key, 32, reinterpret_cast<const unsigned char*>(auth.data()),
         auth.size(), signature, &len);
    std::string proof(32, '\0');
    for (size_t i = 0; i < 32; ++i) {
        proof[i] = static_cast<char>(client_key[i] ^ signature[i]);
    }
    return proof;
}

// The RFC client after it has answered the RFC server-first, waiting for server-final.
ClientExchange rfc_client_at_final() {
    ClientExchange client("pencil", std::string(kClientNonce), "user");
    client.client_first();
    std::string client_final;
    EXPECT_EQ(client.server_first(kServerFirst, client_final), Status::kOk);
    return client;
}

const std::string kBindingData = "\x01\x02\x03 end-point hash";
const std::string kBindingGs2 = "p=tls-server-end-point,,";

// A server for a client that chose SCRAM-SHA-256-PLUS, past client-first (client nonce "abc",
// server nonce "srv").
ServerExchange binding_server(std::string& server_first) {
    ServerExchange server(rfc_verifier(), "srv", kBindingData);
    EXPECT_EQ(server.client_first(kBindingGs2 + "n=,r=abc", server_first), Status::kOk);
    return server;
}

// Runs a client against a server; returns the first status that is not kOk.
Status run_exchange(ClientExchange& client, ServerExchange& server) {
    std::string server_first;
    std::string client_final;
    std::string server_final;
    Status s = server.client_first(client.client_first(), server_first);
    if (s == Status::kOk) {
        s = client.server_first(server_first, client_final);
    }
    if (s == Status::kOk) {
        s = server.client_final(client_final, server_final);
    }
    if (s == Status::kOk) {
        s = client.server_final(server_final);
    }
    return s;
}

// Passes the RFC client-first, then `client_final`, to a fresh RFC server.
Status rfc_server_final(std::string_view client_final) {
    ServerExchange server = rfc_server();
    std::string out;
    EXPECT_EQ(server.client_first(kClientFirst, out), Status::kOk);
    return server.client_final(client_final, out);
}

Status first_status(ServerExchange server, std::string_view client_first) {
    std::string out;
    return server.client_first(client_first, out);
}

TEST(Scram, ServerReplaysRfc7677Example) {
    ServerExchange server = rfc_server();
    std::string server_first;
    ASSERT_EQ(server.client_first(kClientFirst, server_first), Status::kOk);
    EXPECT_EQ(server_first, kServerFirst);
    std::string server_final;
    ASSERT_EQ(server.client_final(kClientFinal, server_final), Status::kOk);
    EXPECT_EQ(server_final, kServerFinal);
}

TEST(Scram, ClientReplaysRfc7677Example) {
    ClientExchange client("pencil", std::string(kClientNonce), "user");
    EXPECT_EQ(client.client_first(), kClientFirst);
    std::string client_final;
    ASSERT_EQ(client.server_first(kServerFirst, client_final), Status::kOk);
    EXPECT_EQ(client_final, kClientFinal);
    EXPECT_EQ(client.server_final(kServerFinal), Status::kOk);
}

TEST(Scram, ClientSendsEmptyUserNameByDefault) {
    ClientExchange client("pencil", "abc");
    EXPECT_EQ(client.client_first(), "n,,n=,r=abc");
}

TEST(Scram, ClientEscapesUserName) {
    ClientExchange client("pencil", "abc", "a=b,c");
    EXPECT_EQ(client.client_first(), "n,,n=a=3Db=2Cc,r=abc");
}

TEST(Scram, ClientAndServerAgreeWithRightPassword) {
    ClientExchange client("pencil", random_nonce());
    ServerExchange server(make_verifier("pencil", "salty", 4096), random_nonce());
    EXPECT_EQ(run_exchange(client, server), Status::kOk);
}

TEST(Scram, ClientAgreesWithVerifierMadeByPostgres) {
    const std::optional<Verifier> v = parse_verifier(kPostgresVerifier);
    ASSERT_TRUE(v.has_value());
    ClientExchange client("pencil", random_nonce());
    ServerExchange server(*v, random_nonce());
    EXPECT_EQ(run_exchange(client, server), Status::kOk);
}

TEST(Scram, ServerRejectsWrongPassword) {
    ClientExchange client("pencil!", random_nonce());
    ServerExchange server(make_verifier("pencil", "salty", 4096), random_nonce());
    EXPECT_EQ(run_exchange(client, server), Status::kBadProof);
}

TEST(Scram, ServerRejectsTamperedProof) {
    std::string tampered(kClientFinal);
    tampered[tampered.size() - 3] = 'W';
    EXPECT_EQ(rfc_server_final(tampered), Status::kBadProof);
}

TEST(Scram, ClientRejectsWrongServerSignature) {
    ClientExchange client = rfc_client_at_final();
    EXPECT_EQ(client.server_final("v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
              Status::kBadProof);
}

TEST(Scram, ClientReportsServerError) {
    ClientExchange client = rfc_client_at_final();
    EXPECT_EQ(client.server_final("e=invalid-proof"), Status::kBadProof);
}

TEST(Scram, ServerAcceptsEmptyUserName) {
    EXPECT_EQ(first_status(rfc_server(), "n,,n=,r=abc"), Status::kOk);
}

TEST(Scram, ServerRejectsMalformedClientFirst) {
    for (std::string_view msg :
         {"", "n", "n,", "x,,n=,r=abc", "n,,", "n,,n=", "n,,n=,r=", "n,,r=abc,n=", "n,,n=,r=a,b",
          "n,,n=,r=a\x01", "n,,n=,r=abc,", "n,x,n=,r=abc", "p=tls-server-end-point,,n=,r=abc"}) {
        EXPECT_EQ(first_status(rfc_server(), msg), Status::kMalformed) << msg;
    }
}

TEST(Scram, ServerRefusesAuthzidAndMandatoryExtensions) {
    EXPECT_EQ(first_status(rfc_server(), "n,a=admin,n=,r=abc"), Status::kUnsupported);
    EXPECT_EQ(first_status(rfc_server(), "n,,m=ext,n=,r=abc"), Status::kUnsupported);
}

TEST(Scram, ServerRejectsDowngradeWhenPlusWasOffered) {
    EXPECT_EQ(first_status(ServerExchange(rfc_verifier(), "s", {}, true), "y,,n=,r=abc"),
              Status::kMalformed);
    EXPECT_EQ(first_status(ServerExchange(rfc_verifier(), "s", {}, false), "y,,n=,r=abc"),
              Status::kOk);
}

TEST(Scram, ServerRejectsMalformedClientFinal) {
    const std::string nonce = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const std::string proof = "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    for (const std::string& msg : {std::string(""), "c=biws," + nonce,
                                   "c=biws,r=wrongnonce," + proof, "c=eSws," + nonce + "," + proof,
                                   "c=biws," + nonce + ",p=dHzb", "c=bi!s," + nonce + "," + proof,
                                   nonce + ",c=biws," + proof, "c=biws," + nonce + ",," + proof}) {
        EXPECT_EQ(rfc_server_final(msg), Status::kMalformed) << msg;
    }
}

TEST(Scram, ServerRejectsStepsOutOfOrder) {
    ServerExchange server = rfc_server();
    std::string out;
    EXPECT_EQ(server.client_final(kClientFinal, out), Status::kMalformed);
    ServerExchange once = rfc_server();
    ASSERT_EQ(once.client_first(kClientFirst, out), Status::kOk);
    ASSERT_EQ(once.client_final(kClientFinal, out), Status::kOk);
    EXPECT_EQ(once.client_final(kClientFinal, out), Status::kMalformed);
}

TEST(Scram, ServerChecksChannelBindingData) {
    std::string server_first;
    ServerExchange server = binding_server(server_first);
    std::string out;
    // A binding of other data fails before the proof is even looked at.
    const std::string wrong = "c=" + base64_encode(kBindingGs2 + "other") +
                              ",r=abcsrv,p=" + base64_encode(std::string(32, 'x'));
    EXPECT_EQ(server.client_final(wrong, out), Status::kMalformed);
}

TEST(Scram, ServerAcceptsMatchingChannelBinding) {
    std::string server_first;
    ServerExchange server = binding_server(server_first);
    const std::string without_proof =
        "c=" + base64_encode(kBindingGs2 + kBindingData) + ",r=abcsrv";
    const std::string auth = "n=,r=abc," + server_first + "," + without_proof;
    const std::string proof = rfc_client_proof(auth);
    std::string server_final;
    EXPECT_EQ(server.client_final(without_proof + ",p=" + base64_encode(proof), server_final),
              Status::kOk);
    EXPECT_TRUE(server_final.starts_with("v="));
}

TEST(Scram, ServerRefusesOtherChannelBindingTypes) {
    EXPECT_EQ(first_status(ServerExchange(rfc_verifier(), "s", "cb"), "p=tls-unique,,n=,r=abc"),
              Status::kUnsupported);
    EXPECT_EQ(first_status(ServerExchange(rfc_verifier(), "s", "cb"), "n,,n=,r=abc"),
              Status::kMalformed);
}

TEST(Scram, ClientRejectsMalformedServerFirst) {
    for (std::string_view msg :
         {"", "r=abc", "r=abcX,s=c2FsdA==", "r=xyz,s=c2FsdA==,i=4096", "r=abc,s=c2FsdA==,i=4096",
          "r=abcX,s=,i=4096", "r=abcX,s=c2FsdA=,i=4096", "r=abcX,s=c2FsdA==,i=0",
          "r=abcX,s=c2FsdA==,i=-1", "r=abcX,s=c2FsdA==,i=4x", "r=abcX,s=c2FsdA==,i=99999999999",
          "s=c2FsdA==,r=abcX,i=4096", "r=abcX,s=c2FsdA==,i=4096,"}) {
        ClientExchange client("pencil", "abc");
        client.client_first();
        std::string out;
        EXPECT_EQ(client.server_first(msg, out), Status::kMalformed) << msg;
    }
    ClientExchange client("pencil", "abc");
    client.client_first();
    std::string out;
    EXPECT_EQ(client.server_first("m=x,r=abcX,s=c2FsdA==,i=1", out), Status::kUnsupported);
}

TEST(Scram, ClientRejectsMalformedServerFinal) {
    for (std::string_view msg : {"", "x=1", "v=not base64", "v"}) {
        ClientExchange client = rfc_client_at_final();
        EXPECT_EQ(client.server_final(msg), Status::kMalformed) << msg;
    }
}

TEST(Scram, ClientRejectsStepsOutOfOrder) {
    ClientExchange client("pencil", std::string(kClientNonce), "user");
    std::string out;
    EXPECT_EQ(client.server_first(kServerFirst, out), Status::kMalformed);
    EXPECT_EQ(client.server_final(kServerFinal), Status::kMalformed);
}

TEST(ScramVerifier, ParsesPostgresVerifier) {
    const std::optional<Verifier> v = parse_verifier(kPostgresVerifier);
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(v->iterations, 4096);
    EXPECT_EQ(v->salt.size(), 16u);
    EXPECT_EQ(v->stored_key.size(), 32u);
    EXPECT_EQ(format_verifier(*v), kPostgresVerifier);
}

TEST(ScramVerifier, MatchesRfcKeys) {
    const Verifier v = rfc_verifier();
    EXPECT_EQ(format_verifier(v),
              "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
              "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
              "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=");
}

TEST(ScramVerifier, RejectsMalformedVerifiers) {
    const std::string keys =
        "$7N4/kN2wEQX0rN4kUNsmdFMpDV8e2JCkbeuKctTN980=:4TLgSoa5DwbyttW33Yn2RftRxYzUAYBQNmDEaa7EtoY=";
    for (const std::string& text : std::vector<std::string>{
             "", "md5abc", "SCRAM-SHA-256$", "SCRAM-SHA-256$4096:gniSDxilIKmjqnT8lZy+iQ==",
             "SCRAM-SHA-256$0:gniSDxilIKmjqnT8lZy+iQ==" + keys,
             "SCRAM-SHA-256$x:gniSDxilIKmjqnT8lZy+iQ==" + keys, "SCRAM-SHA-256$4096:" + keys,
             "SCRAM-SHA-256$4096:gniSDxilIKmjqnT8lZy+iQ==$AAAA:AAAA",
             "SCRAM-SHA-1$4096:gniSDxilIKmjqnT8lZy+iQ==" + keys,
             "SCRAM-SHA-256$4096:gniSDxilIKmjqnT8lZy+iQ==" + keys + "x"}) {
        EXPECT_FALSE(parse_verifier(text).has_value()) << text;
    }
}

TEST(ScramBase64, RoundTripsAllPaddings) {
    for (const std::string& raw :
         std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
        const std::optional<std::string> back = base64_decode(base64_encode(raw));
        ASSERT_TRUE(back.has_value());
        EXPECT_EQ(*back, raw);
    }
    EXPECT_EQ(base64_encode("n,,"), "biws");
    EXPECT_EQ(base64_encode("ab"), "YWI=");
}

TEST(ScramBase64, RejectsMalformedText) {
    for (std::string_view text : {"YWI", "YW=I", "Y===", " YWI=", "YWI=\n", "YW\0=", "Y-I="}) {
        EXPECT_FALSE(base64_decode(text).has_value()) << text;
    }
}

TEST(ScramNonce, IsPrintableAndRandom) {
    const std::string a = random_nonce();
    const std::string b = random_nonce();
    EXPECT_EQ(a.size(), 24u);
    EXPECT_NE(a, b);
    EXPECT_EQ(a.find(','), std::string::npos);
}

}  // namespace
}  // namespace storegate::protocol::scram
