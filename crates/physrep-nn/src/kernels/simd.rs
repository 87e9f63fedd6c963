//! Run-time instruction-set dispatch for the CPU kernels.

/// Define `$name` as a call of `$imp` through a copy compiled for the best instruction set the CPU
/// has (AVX-512F, AVX2 + FMA, or the portable baseline), checked once at run time. `$imp` should
/// be `#[inline(always)]` so each copy is compiled with its own target features.
macro_rules! multiversion {
    ($(#[$m:meta])* fn $name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)? => $imp:ident) => {
        $(#[$m])*
        fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                unsafe fn avx512($($arg: $ty),*) $(-> $ret)? {
                    $imp($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                    $imp($($arg),*)
                }
                match $crate::kernels::simd::simd_level() {
                    // SAFETY: the CPU supports AVX-512F (checked at run time).
                    2 => return unsafe { avx512($($arg),*) },
                    // SAFETY: the CPU supports AVX2 and FMA (checked at run time).
                    1 => return unsafe { avx2($($arg),*) },
                    _ => {}
                }
            }
            $imp($($arg),*)
        }
    };
}

/// 2 = AVX-512F, 1 = AVX2 + FMA, 0 = portable.
#[cfg(target_arch = "x86_64")]
pub(crate) fn simd_level() -> u8 {
    use std::sync::OnceLock;
    static LEVEL: OnceLock<u8> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        if std::is_x86_feature_detected!("avx512f") {
            2
        } else if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            1
        } else {
            0
        }
    })
}
