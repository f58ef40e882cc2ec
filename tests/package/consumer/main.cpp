// A program outside libtodo's tree that uses it the way a user would: built
// against an installed libtodo (find_package or pkg-config) or with
// add_subdirectory. It prints what it did; the package test compares that.
// CONSUMER_WITH_JWT and CONSUMER_WITH_POSTGRES add the other components.

#include <iostream>

#include <libtodo/errors.hpp>
#include <libtodo/sqlite_repository.hpp>
#include <libtodo/time.hpp>
#ifdef CONSUMER_WITH_JWT
#include <libtodo/jwt_verifier.hpp>
#endif
#ifdef CONSUMER_WITH_POSTGRES
#include <libtodo/postgres_repository.hpp>
#endif

int main() {
  libtodo::SqliteTaskRepository repo(libtodo::SqliteOptions{.path = ":memory:"});
  repo.create("ada", libtodo::TaskDraft{.title = "Buy milk"});
  const libtodo::Task bread = repo.create("ada", libtodo::TaskDraft{.title = "Buy bread"});
  libtodo::TaskPatch complete;
  complete.completed = true;
  repo.update("ada", bread.id, complete);
  libtodo::TaskQuery pending;
  pending.status = libtodo::StatusFilter::pending;
  const libtodo::TaskPage page = repo.list("ada", pending);
  std::cout << "sqlite: " << page.tasks.size() << " pending, " << page.tasks.at(0).title << '\n';

  // Thrown inside the libraries, caught here by the base class: the exception
  // types must be the same across the library boundary.
  try {
    repo.create("ada", libtodo::TaskDraft{.title = "   "});
  } catch (const libtodo::Error& e) {
    const auto* invalid = dynamic_cast<const libtodo::ValidationError*>(&e);
    std::cout << "core: " << (invalid ? invalid->errors().at(0).field : "?") << " rejected, "
              << libtodo::format_rfc3339(libtodo::from_unix_ms(0)) << '\n';
  }

#ifdef CONSUMER_WITH_JWT
  const std::string secret = "consumer-secret-of-at-least-32-bytes!";
  libtodo::JwtOptions options;
  options.hs_secret = secret;
  const libtodo::JwtVerifier verifier(options);
  libtodo::TokenClaims claims;
  claims.subject = "ada";
  const libtodo::Verification ok = verifier.verify(libtodo::mint_hs_token(secret, claims));
  const libtodo::Verification bad =
      verifier.verify(libtodo::mint_hs_token("another-secret-of-at-least-32-bytes", claims));
  std::cout << "jwt: " << (ok ? ok.principal().user_id : "?") << " verified, "
            << libtodo::to_string(bad.failure()) << '\n';
#endif

#ifdef CONSUMER_WITH_POSTGRES
  // Nothing listens on port 1: the repository must report that as a libtodo error.
  try {
    libtodo::PostgresTaskRepository pg(libtodo::PostgresOptions{.url = "postgresql://127.0.0.1:1/none"});
    std::cout << "postgres: connected?\n";
  } catch (const libtodo::StorageUnavailable&) {
    std::cout << "postgres: unavailable\n";
  }
#endif
  return 0;
}
