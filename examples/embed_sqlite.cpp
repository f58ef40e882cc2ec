// Embedding the task store without HTTP: open an in-memory SQLite
// repository, create tasks for a user, list them, and complete one.

#include <iostream>

#include <libtodo/errors.hpp>
#include <libtodo/sqlite_repository.hpp>

int main() {
  libtodo::SqliteTaskRepository repo(libtodo::SqliteOptions{.path = ":memory:"});
  const std::string user = "user-42";

  libtodo::TaskDraft draft;
  draft.title = "  Water the plants  ";  // trimmed by validation
  draft.tags = {"home", "home", "garden"};  // de-duplicated
  draft.priority = libtodo::Priority::high;
  const libtodo::Task plants = repo.create(user, draft);
  repo.create(user, libtodo::TaskDraft{.title = "Pay rent"});

  try {
    repo.create(user, libtodo::TaskDraft{.title = "   "});
  } catch (const libtodo::ValidationError& e) {
    std::cout << "rejected: " << e.errors().front().field << " " << e.errors().front().message << '\n';
  }

  libtodo::TaskPatch complete;
  complete.completed = true;
  const auto done = repo.update(user, plants.id, complete);

  for (const libtodo::Task& t : repo.list(user, {}).tasks)
    std::cout << t.status() << "\t" << libtodo::to_string(t.priority) << "\t" << t.title << '\n';

  // Another user sees nothing of user-42's tasks.
  const bool isolated = repo.list("someone-else", {}).tasks.empty() && !repo.find("someone-else", plants.id);
  return done && done->completed && isolated ? 0 : 1;
}
