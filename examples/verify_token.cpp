// Verifying a bearer token with libtodo::JwtVerifier, without the server:
// mint an HS256 token with a shared secret, verify it, and show a rejection.

#include <iostream>

#include <libtodo/jwt_verifier.hpp>

int main() {
  const std::string secret = "example-secret-that-is-at-least-32-bytes";
  libtodo::JwtOptions options;
  options.hs_secret = secret;
  options.audience = "https://app.example.com";
  const libtodo::JwtVerifier verifier(options);

  libtodo::TokenClaims claims;
  claims.subject = "user-42";
  claims.email = "ada@example.com";
  claims.audience = "https://app.example.com";
  const std::string token = libtodo::mint_hs_token(secret, claims);

  const libtodo::Verification ok = verifier.verify(token);
  if (!ok) return 1;
  std::cout << "verified: sub=" << ok.principal().user_id << " email=" << ok.principal().email.value_or("-")
            << '\n';

  claims.audience = "https://evil.example.com";
  const libtodo::Verification bad = verifier.verify(libtodo::mint_hs_token(secret, claims));
  std::cout << "rejected: " << libtodo::to_string(bad.failure()) << '\n';
  return !bad && bad.failure() == libtodo::AuthFailure::wrong_audience ? 0 : 1;
}
