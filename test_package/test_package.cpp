// Creates, lists and completes a task through the packaged libtodo::sqlite.
#include <iostream>

#include <libtodo/sqlite_repository.hpp>

int main() {
  libtodo::SqliteTaskRepository repo(libtodo::SqliteOptions{.path = ":memory:"});
  const libtodo::Task task = repo.create("ada", libtodo::TaskDraft{.title = "Try the package"});
  libtodo::TaskPatch complete;
  complete.completed = true;
  const auto done = repo.update("ada", task.id, complete);
  std::cout << "libtodo: " << repo.list("ada", {}).tasks.size() << " task, " << done->status() << '\n';
  return done && done->completed ? 0 : 1;
}
