// Client's private part, shared by client.cpp and watch.cpp.
#pragma once

#include <utility>

#include "kube/client.h"
#include "kube/transport.h"

namespace gpushare::kube {

struct Client::Impl {
  Impl(KubeConfig config, ClientOptions options)
      : transport(std::move(config), std::move(options)) {}
  Transport transport;
};

}  // namespace gpushare::kube
