#!/usr/bin/env bash
# The C interface: builds libRNNKitC.so, checks that it exports exactly the
# functions rnnkit.h declares, compiles the header as C and C++ with every
# warning an error, and runs the example and the error-path tests against it.
set -euo pipefail
cd "$(dirname "$0")/.."
source Tests/swiftpm.sh
configuration=${1:-release}
swiftpm swift build -c "$configuration" --product RNNKitC
library=.build/$configuration
header=Sources/CInterface/Header/include
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

declared=$(grep -o 'rnnkit_[a-z_]*(' "$header/rnnkit.h" | tr -d '(' | grep -v '_callback$' | sort -u)
exported=$(nm -D --defined-only "$library/libRNNKitC.so" | awk '$2 == "T" && $3 ~ /^rnnkit_/ {print $3}' | sort)
if [ "$declared" != "$exported" ]; then
    echo "rnnkit.h and libRNNKitC.so disagree:" >&2
    diff <(echo "$declared") <(echo "$exported") >&2 || true
    exit 1
fi

# The functions' types as Swift exports them, declared again after the
# header's own: C refuses a second declaration of another type. Swift writes
# handles as void *, mapped back by parameter name; the header's const on a
# handle is dropped on both sides.
# The package name SwiftPM compiled with (the folder's name, made an identifier), for `package` access.
package_name=$(grep -o 'package-name","[^"]*' ".build/$configuration.yaml" | head -1 | cut -d'"' -f3)
swiftc -typecheck -parse-as-library -module-name RNNKitC -package-name "$package_name" \
    -I "$library/Modules" -Xcc -I -Xcc "$header" -Xcc -I -Xcc Sources/CRNNSupport/include \
    -Xcc -fmodule-map-file="$library/RNNKitCHeader.build/module.modulemap" \
    -Xcc -fmodule-map-file="$library/CRNNSupport.build/module.modulemap" \
    Sources/CInterface/Exports/*.swift -emit-clang-header-path "$work/exported.h"
sed -E 's/const rnnkit_(model|data|trainer) \*/rnnkit_\1 */g' "$header/rnnkit.h" >"$work/rnnkit.h"
{
    echo '#include "rnnkit.h"'
    grep '^SWIFT_EXTERN .*rnnkit_' "$work/exported.h" |
        sed -E -e 's/SWIFT_EXTERN/extern/; s/ SWIFT_[A-Z_]+//g; s/ _Nullable//g' \
            -e 's/void \* \* (model|trainer|data)\b/rnnkit_\1 **\1/g; s/void \* (model|trainer|data)\b/rnnkit_\1 *\1/g'
} >"$work/agree.c"
cc -std=c11 -fsyntax-only -Werror -I "$work" "$work/agree.c"

flags=(-I "$header" -L "$library" -lRNNKitC -Wl,-rpath,"$PWD/$library" -Wall -Wextra -Werror)
echo '#include "rnnkit.h"' | c++ -x c++ -std=c++17 -fsyntax-only -Wall -Wextra -Werror -I "$header" -
cc -std=c11 -pedantic Tests/CInterface/example.c "${flags[@]}" -o "$work/example"
cc -std=c11 -pthread Tests/CInterface/errors.c "${flags[@]}" -o "$work/errors"
"$work/errors"
"$work/example" "$work/classifier.safetensors"
echo "C interface: OK"
