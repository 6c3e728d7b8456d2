;; The fused elementwise kernels of _fused.ts in WebAssembly SIMD (128-bit), over the heap of the
;; TensorFlow.js wasm backend they are instantiated on (its memory is imported). Pointers are byte offsets
;; into that heap. Tensors are [rows, c] row-major with c a multiple of 4 (the NHWC channel axis last);
;; per-channel vectors of c floats, accumulators of c doubles.
;;
;; Built into _fused_wasm.ts by `deno run -A engine/_fused_build.ts` (wat2wasm from the `wabt` package).
(module
  (import "env" "memory" (memory 1))

  ;; s1[j] += x[r, j], s2[j] += x[r, j]^2 over all rows, in double precision (the products of float32
  ;; values are exact in a double).
  (func (export "bn_stats")
    (param $x i32) (param $rows i32) (param $c i32) (param $s1 i32) (param $s2 i32)
    (local $r i32) (local $j i32) (local $row i32) (local $v v128) (local $lo v128) (local $hi v128)
    (local $o1 i32) (local $o2 i32)
    (local.set $row (i32.shl (local.get $c) (i32.const 2)))
    (block $done
      (loop $rows_loop
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $j (i32.const 0))
        (block $row_done
          (loop $channels
            (br_if $row_done (i32.ge_u (local.get $j) (local.get $row)))
            (local.set $v (v128.load (i32.add (local.get $x) (local.get $j))))
            (local.set $lo (f64x2.promote_low_f32x4 (local.get $v)))
            (local.set $hi (f64x2.promote_low_f32x4
              (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))
            (local.set $o1 (i32.add (local.get $s1) (i32.shl (local.get $j) (i32.const 1))))
            (local.set $o2 (i32.add (local.get $s2) (i32.shl (local.get $j) (i32.const 1))))
            (v128.store (local.get $o1) (f64x2.add (v128.load (local.get $o1)) (local.get $lo)))
            (v128.store offset=16 (local.get $o1)
              (f64x2.add (v128.load offset=16 (local.get $o1)) (local.get $hi)))
            (v128.store (local.get $o2)
              (f64x2.add (v128.load (local.get $o2)) (f64x2.mul (local.get $lo) (local.get $lo))))
            (v128.store offset=16 (local.get $o2)
              (f64x2.add (v128.load offset=16 (local.get $o2)) (f64x2.mul (local.get $hi) (local.get $hi))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $channels)))
        (local.set $x (i32.add (local.get $x) (local.get $row)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows_loop))))

  ;; y[r, j] = (x[r, j] - mean[j]) * a[j] + b[j], in float32.
  (func (export "bn_normalize")
    (param $x i32) (param $y i32) (param $rows i32) (param $c i32) (param $mean i32) (param $a i32)
    (param $b i32)
    (local $r i32) (local $j i32) (local $row i32)
    (local.set $row (i32.shl (local.get $c) (i32.const 2)))
    (block $done
      (loop $rows_loop
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $j (i32.const 0))
        (block $row_done
          (loop $channels
            (br_if $row_done (i32.ge_u (local.get $j) (local.get $row)))
            (v128.store (i32.add (local.get $y) (local.get $j))
              (f32x4.add
                (f32x4.mul
                  (f32x4.sub
                    (v128.load (i32.add (local.get $x) (local.get $j)))
                    (v128.load (i32.add (local.get $mean) (local.get $j))))
                  (v128.load (i32.add (local.get $a) (local.get $j))))
                (v128.load (i32.add (local.get $b) (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $channels)))
        (local.set $x (i32.add (local.get $x) (local.get $row)))
        (local.set $y (i32.add (local.get $y) (local.get $row)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows_loop))))

  ;; s1[j] += dy[r, j], s2[j] += dy[r, j] * x[r, j] over all rows, in double precision.
  (func (export "bn_grad_sums")
    (param $dy i32) (param $x i32) (param $rows i32) (param $c i32) (param $s1 i32) (param $s2 i32)
    (local $r i32) (local $j i32) (local $row i32) (local $g v128) (local $v v128) (local $o1 i32)
    (local $o2 i32) (local $glo v128) (local $ghi v128)
    (local.set $row (i32.shl (local.get $c) (i32.const 2)))
    (block $done
      (loop $rows_loop
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $j (i32.const 0))
        (block $row_done
          (loop $channels
            (br_if $row_done (i32.ge_u (local.get $j) (local.get $row)))
            (local.set $g (v128.load (i32.add (local.get $dy) (local.get $j))))
            (local.set $v (v128.load (i32.add (local.get $x) (local.get $j))))
            (local.set $glo (f64x2.promote_low_f32x4 (local.get $g)))
            (local.set $ghi (f64x2.promote_low_f32x4
              (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $g) (local.get $g))))
            (local.set $o1 (i32.add (local.get $s1) (i32.shl (local.get $j) (i32.const 1))))
            (local.set $o2 (i32.add (local.get $s2) (i32.shl (local.get $j) (i32.const 1))))
            (v128.store (local.get $o1) (f64x2.add (v128.load (local.get $o1)) (local.get $glo)))
            (v128.store offset=16 (local.get $o1)
              (f64x2.add (v128.load offset=16 (local.get $o1)) (local.get $ghi)))
            (v128.store (local.get $o2)
              (f64x2.add (v128.load (local.get $o2))
                (f64x2.mul (local.get $glo) (f64x2.promote_low_f32x4 (local.get $v)))))
            (v128.store offset=16 (local.get $o2)
              (f64x2.add (v128.load offset=16 (local.get $o2))
                (f64x2.mul (local.get $ghi)
                  (f64x2.promote_low_f32x4
                    (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $channels)))
        (local.set $dy (i32.add (local.get $dy) (local.get $row)))
        (local.set $x (i32.add (local.get $x) (local.get $row)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows_loop))))

  ;; dx[r, j] = ka[j] * dy[r, j] + kb[j] * (x[r, j] - mean[j]) + kc[j], in float32.
  (func (export "bn_grad_dx")
    (param $dy i32) (param $x i32) (param $dx i32) (param $rows i32) (param $c i32) (param $mean i32)
    (param $ka i32) (param $kb i32) (param $kc i32)
    (local $r i32) (local $j i32) (local $row i32)
    (local.set $row (i32.shl (local.get $c) (i32.const 2)))
    (block $done
      (loop $rows_loop
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $j (i32.const 0))
        (block $row_done
          (loop $channels
            (br_if $row_done (i32.ge_u (local.get $j) (local.get $row)))
            (v128.store (i32.add (local.get $dx) (local.get $j))
              (f32x4.add
                (f32x4.add
                  (f32x4.mul
                    (v128.load (i32.add (local.get $ka) (local.get $j)))
                    (v128.load (i32.add (local.get $dy) (local.get $j))))
                  (f32x4.mul
                    (v128.load (i32.add (local.get $kb) (local.get $j)))
                    (f32x4.sub
                      (v128.load (i32.add (local.get $x) (local.get $j)))
                      (v128.load (i32.add (local.get $mean) (local.get $j))))))
                (v128.load (i32.add (local.get $kc) (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $channels)))
        (local.set $dy (i32.add (local.get $dy) (local.get $row)))
        (local.set $x (i32.add (local.get $x) (local.get $row)))
        (local.set $dx (i32.add (local.get $dx) (local.get $row)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows_loop))))

  ;; Adam over n floats, in float32 and in the order of the composite ops:
  ;; g' = g + p wd (when wd != 0), m' = m b1 + g' (1 - b1), v' = v b2 + g'^2 (1 - b2),
  ;; p' = p - m' / (sqrt(v') / sqrtC2 + eps) * stepSize.
  (func (export "adam")
    (param $p i32) (param $g i32) (param $m i32) (param $v i32) (param $p1 i32) (param $m1 i32)
    (param $v1 i32) (param $n i32) (param $b1 f32) (param $omb1 f32) (param $b2 f32) (param $omb2 f32)
    (param $sqrtC2 f32) (param $eps f32) (param $step f32) (param $wd f32)
    (local $i i32) (local $end i32)
    (local $vb1 v128) (local $vomb1 v128) (local $vb2 v128) (local $vomb2 v128) (local $vsq v128)
    (local $veps v128) (local $vstep v128) (local $vwd v128) (local $gv v128) (local $mv v128)
    (local $vv v128) (local $pv v128)
    (local $gs f32) (local $ms f32) (local $vs f32) (local $ps f32)
    (local.set $vb1 (f32x4.splat (local.get $b1)))
    (local.set $vomb1 (f32x4.splat (local.get $omb1)))
    (local.set $vb2 (f32x4.splat (local.get $b2)))
    (local.set $vomb2 (f32x4.splat (local.get $omb2)))
    (local.set $vsq (f32x4.splat (local.get $sqrtC2)))
    (local.set $veps (f32x4.splat (local.get $eps)))
    (local.set $vstep (f32x4.splat (local.get $step)))
    (local.set $vwd (f32x4.splat (local.get $wd)))
    ;; Whole vectors of four, then the remaining floats one by one.
    (local.set $end (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2)))
    (block $done
      (loop $vectors
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $pv (v128.load (i32.add (local.get $p) (local.get $i))))
        (local.set $gv (v128.load (i32.add (local.get $g) (local.get $i))))
        (if (f32.ne (local.get $wd) (f32.const 0))
          (then (local.set $gv (f32x4.add (local.get $gv) (f32x4.mul (local.get $pv) (local.get $vwd))))))
        (local.set $mv
          (f32x4.add
            (f32x4.mul (v128.load (i32.add (local.get $m) (local.get $i))) (local.get $vb1))
            (f32x4.mul (local.get $gv) (local.get $vomb1))))
        (local.set $vv
          (f32x4.add
            (f32x4.mul (v128.load (i32.add (local.get $v) (local.get $i))) (local.get $vb2))
            (f32x4.mul (f32x4.mul (local.get $gv) (local.get $gv)) (local.get $vomb2))))
        (v128.store (i32.add (local.get $m1) (local.get $i)) (local.get $mv))
        (v128.store (i32.add (local.get $v1) (local.get $i)) (local.get $vv))
        (v128.store (i32.add (local.get $p1) (local.get $i))
          (f32x4.sub (local.get $pv)
            (f32x4.mul
              (f32x4.div (local.get $mv)
                (f32x4.add (f32x4.div (f32x4.sqrt (local.get $vv)) (local.get $vsq)) (local.get $veps)))
              (local.get $vstep))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $vectors)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $ps (f32.load (i32.add (local.get $p) (local.get $i))))
        (local.set $gs (f32.load (i32.add (local.get $g) (local.get $i))))
        (if (f32.ne (local.get $wd) (f32.const 0))
          (then (local.set $gs (f32.add (local.get $gs) (f32.mul (local.get $ps) (local.get $wd))))))
        (local.set $ms
          (f32.add
            (f32.mul (f32.load (i32.add (local.get $m) (local.get $i))) (local.get $b1))
            (f32.mul (local.get $gs) (local.get $omb1))))
        (local.set $vs
          (f32.add
            (f32.mul (f32.load (i32.add (local.get $v) (local.get $i))) (local.get $b2))
            (f32.mul (f32.mul (local.get $gs) (local.get $gs)) (local.get $omb2))))
        (f32.store (i32.add (local.get $m1) (local.get $i)) (local.get $ms))
        (f32.store (i32.add (local.get $v1) (local.get $i)) (local.get $vs))
        (f32.store (i32.add (local.get $p1) (local.get $i))
          (f32.sub (local.get $ps)
            (f32.mul
              (f32.div (local.get $ms)
                (f32.add (f32.div (f32.sqrt (local.get $vs)) (local.get $sqrtC2)) (local.get $eps)))
              (local.get $step))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $tail))))
)
