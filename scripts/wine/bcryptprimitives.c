/* Test-only stand-in for bcryptprimitives.dll, which Debian's Wine 8.0 lacks: Rust's std (1.78+)
 * imports ProcessPrng from it. Never shipped; scripts/wine-fixtures.sh puts it in the Wine prefix. */
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length); /* RtlGenRandom, advapi32 */
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!SystemFunction036(data, n)) return FALSE;
        data += n;
        len -= n;
    }
    return TRUE;
}
