// Boost.URL is used header-only: this is the one translation unit that compiles its sources.
#include <boost/url/src.hpp>
