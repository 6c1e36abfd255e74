// The commented example plan that `hsmctl ceremony plan-example` prints (and a test validates).
#pragma once

namespace hsm {

const char* plan_example();

}  // namespace hsm
