// The process-shared, robust mutex of the service's tables in shared memory (the SADs, the rate
// buckets): made once by the supervisor before it forks, and taken by any worker; a worker that
// died holding it leaves it usable.
#pragma once

#include <pthread.h>

#include <cerrno>

namespace hsm {

// Initialises `m`, which lives in a MAP_SHARED mapping, as process-shared and robust.
inline void init_shared_mutex(pthread_mutex_t& m) {
  pthread_mutexattr_t attr;
  ::pthread_mutexattr_init(&attr);
  ::pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  ::pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  ::pthread_mutex_init(&m, &attr);
  ::pthread_mutexattr_destroy(&attr);
}

// Holds such a mutex for a scope, making it consistent again if its last holder died.
class SharedMutexTurn {
 public:
  explicit SharedMutexTurn(pthread_mutex_t& m) : m_(m) {
    if (::pthread_mutex_lock(&m_) == EOWNERDEAD) ::pthread_mutex_consistent(&m_);
  }
  ~SharedMutexTurn() { ::pthread_mutex_unlock(&m_); }
  SharedMutexTurn(const SharedMutexTurn&) = delete;
  SharedMutexTurn& operator=(const SharedMutexTurn&) = delete;

 private:
  pthread_mutex_t& m_;
};

}  // namespace hsm
