/**
 * Rendering of synthetic faces: an SVG per face (in a 100x100 view box), rasterised by sharp, with
 * blur, contrast, noise and JPEG compression applied afterwards.
 *
 * @module
 */
import sharp from "sharp";
import { Random } from "../engine/random.ts";
import type { FaceParams } from "./_faces_sampling.ts";
import { mixColor } from "./_faces_sampling.ts";

/** Output format of a rendered face. */
export type FaceFormat = "jpeg" | "png" | "raw";

function f(x: number): string {
  return (Math.round(x * 100) / 100).toString();
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, x));
}

/** Builds the SVG document of one face, `size` pixels square. */
export function faceSvg(params: FaceParams, size: number): string {
  const { actions: a, identity: id, scene } = params;
  const out: string[] = [];
  const push = (s: string) => out.push(s);
  const skinDark = mixColor(id.skin, "#2a1408", 0.35);
  const skinShade = mixColor(id.skin, "#2a1408", 0.18);
  const skinLight = mixColor(id.skin, "#ffffff", 0.18);
  const line = mixColor(id.skin, "#1a0c06", 0.65);
  const browColor = mixColor(mixColor(id.hair, "#000000", 0.45), id.skin, 0.1);

  push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 100 100">`,
  );
  // Definitions: background gradient, skin shading, light overlay.
  const bgA = (scene.backgroundAngle * Math.PI) / 180;
  const lA = (scene.lightAngle * Math.PI) / 180;
  push("<defs>");
  push(
    `<linearGradient id="bg" x1="${f(0.5 - 0.5 * Math.cos(bgA))}" y1="${f(0.5 - 0.5 * Math.sin(bgA))}" ` +
      `x2="${f(0.5 + 0.5 * Math.cos(bgA))}" y2="${f(0.5 + 0.5 * Math.sin(bgA))}">` +
      `<stop offset="0" stop-color="${scene.background[0]}"/><stop offset="1" stop-color="${
        scene.background[1]
      }"/></linearGradient>`,
  );
  push(
    `<radialGradient id="skin" cx="0.5" cy="0.42" r="0.62">` +
      `<stop offset="0" stop-color="${skinLight}"/><stop offset="0.7" stop-color="${id.skin}"/>` +
      `<stop offset="1" stop-color="${skinShade}"/></radialGradient>`,
  );
  push(
    `<linearGradient id="light" x1="${f(0.5 - 0.5 * Math.cos(lA))}" y1="${f(0.5 - 0.5 * Math.sin(lA))}" ` +
      `x2="${f(0.5 + 0.5 * Math.cos(lA))}" y2="${f(0.5 + 0.5 * Math.sin(lA))}">` +
      `<stop offset="0" stop-color="#ffffff" stop-opacity="${f(scene.lightStrength)}"/>` +
      `<stop offset="0.5" stop-color="#808080" stop-opacity="0"/>` +
      `<stop offset="1" stop-color="#000000" stop-opacity="${f(scene.lightStrength)}"/></linearGradient>`,
  );
  push("</defs>");

  // Background and clutter.
  push(`<rect width="100" height="100" fill="url(#bg)"/>`);
  for (const c of scene.clutter) {
    const tr = `transform="rotate(${f(c.rotation)} ${f(c.x)} ${f(c.y)})"`;
    if (c.kind === "rect") {
      push(
        `<rect x="${f(c.x - c.w / 2)}" y="${f(c.y - c.h / 2)}" width="${f(c.w)}" height="${f(c.h)}" ` +
          `fill="${c.color}" opacity="${f(c.opacity)}" ${tr}/>`,
      );
    } else if (c.kind === "circle") {
      push(
        `<circle cx="${f(c.x)}" cy="${f(c.y)}" r="${f(c.w / 2)}" fill="${c.color}" opacity="${
          f(c.opacity)
        }"/>`,
      );
    } else {
      push(
        `<line x1="${f(c.x - c.w)}" y1="${f(c.y)}" x2="${f(c.x + c.w)}" y2="${f(c.y)}" stroke="${c.color}" ` +
          `stroke-width="${f(Math.min(c.h, 6))}" opacity="${f(c.opacity)}" ${tr}/>`,
      );
    }
  }

  // The head, in face units around its centre.
  const W = id.faceWidth;
  const H = id.faceHeight;
  const yaw = scene.yaw;
  const sx = yaw * 4.5; // features drift towards the turn
  const py = scene.pitch * 2.5;
  push(
    `<g transform="translate(${f(50 + scene.dx)} ${f(50 + scene.dy)}) rotate(${f(scene.roll)}) ` +
      `scale(${f(scene.scale * 1.2)})">`,
  );

  // Long hair behind the head.
  if (id.hairStyle === 1) {
    push(
      `<path d="M ${f(-W - 5)} ${f(-H * 0.2)} C ${f(-W - 9)} ${f(-H * 1.45)} ${f(W + 9)} ${f(-H * 1.45)} ` +
        `${f(W + 5)} ${f(-H * 0.2)} L ${f(W + 8)} ${f(H * 1.25)} L ${f(-W - 8)} ${
          f(H * 1.25)
        } Z" fill="${id.hair}"/>`,
    );
  }
  // Neck and clothes.
  push(
    `<path d="M ${f(-W * 0.95 - 30)} 75 Q ${f(-W * 0.6)} ${f(H * 1.05)} 0 ${f(H * 1.02)} Q ${f(W * 0.6)} ${
      f(H * 1.05)
    } ${f(W * 0.95 + 30)} 75 L ${f(W + 40)} 90 L ${f(-W - 40)} 90 Z" fill="${scene.clothes}"/>`,
  );
  push(
    `<rect x="${f(-W * 0.42)}" y="${f(H * 0.4)}" width="${f(W * 0.84)}" height="${
      f(H * 0.72)
    }" fill="${skinShade}"/>`,
  );
  // Ears.
  const earY = id.eyeY + 5 + py * 0.5;
  for (const s of [-1, 1]) {
    const ex = s * (W - 0.5 - (s * yaw > 0 ? 3 * Math.abs(yaw) : 0));
    push(
      `<ellipse cx="${f(ex)}" cy="${f(earY)}" rx="3.6" ry="7.5" fill="${id.skin}" stroke="${skinDark}" ` +
        `stroke-width="0.5"/>`,
    );
  }
  // Face outline with the jaw; a dropped jaw lengthens the chin.
  const chinY = H + 3.2 * a.jawDrop;
  const jw = 0.25 + 0.55 * id.jaw;
  push(
    `<path d="M ${f(-W)} 0 C ${f(-W)} ${f(-H * 1.33)} ${f(W)} ${f(-H * 1.33)} ${f(W)} 0 ` +
      `C ${f(W)} ${f(H * 0.55)} ${f(W * jw)} ${f(chinY)} 0 ${f(chinY)} ` +
      `C ${f(-W * jw)} ${f(chinY)} ${f(-W)} ${f(H * 0.55)} ${f(-W)} 0 Z" fill="url(#skin)" ` +
      `stroke="${skinDark}" stroke-width="0.6"/>`,
  );

  const eyeY = id.eyeY + py;
  const browBase = eyeY - id.browGap;
  const noseY = eyeY + id.noseLength + py * 0.3;
  const mouthY = id.mouthY + py * 0.2;

  // Cheeks: blush and the raised cheek (AU6).
  const cheekOpacity = clamp(id.blush + 0.22 * a.cheekRaise, 0, 0.5);
  for (const s of [-1, 1]) {
    push(
      `<ellipse cx="${f(s * (id.eyeSpacing + 1.5) + sx)}" cy="${f(eyeY + 11 - 2.5 * a.cheekRaise)}" rx="6" ` +
        `ry="${f(3.8 + 0.6 * a.cheekRaise)}" fill="#d85a64" opacity="${f(cheekOpacity)}"/>`,
    );
  }

  // Forehead wrinkles (AU1, AU2) and the vertical furrow between the brows (AU4).
  const raise = (a.innerBrowRaise + a.outerBrowRaise) / 2;
  const foreheadOpacity = clamp(0.75 * (raise - 0.2) + 0.15 * id.wrinkles, 0, 0.75);
  if (foreheadOpacity > 0.02) {
    for (let k = 0; k < 3; k++) {
      const y = browBase - 5.5 - 2.6 * k - 1.5 * a.outerBrowRaise;
      const width = 12 - 2 * k;
      const bend = 1.2 * (a.innerBrowRaise - 0.5 * a.outerBrowRaise) + 0.6;
      push(
        `<path d="M ${f(-width + sx)} ${f(y + 0.6)} Q ${f(sx)} ${f(y - bend)} ${f(width + sx)} ${
          f(y + 0.6)
        }" ` +
          `fill="none" stroke="${line}" stroke-width="0.55" opacity="${f(foreheadOpacity)}"/>`,
      );
    }
  }
  const furrowOpacity = clamp(0.85 * (a.browLower - 0.15) + 0.1 * id.wrinkles, 0, 0.8);
  if (furrowOpacity > 0.02) {
    for (const s of [-1, 1]) {
      push(
        `<path d="M ${f(s * 1.4 + sx)} ${f(browBase - 1 + 2.5 * a.browLower)} Q ${f(s * 0.8 + sx)} ${
          f(browBase + 2.5 + 2.5 * a.browLower)
        } ${f(s * 1.5 + sx)} ${f(browBase + 5.5)}" fill="none" stroke="${line}" stroke-width="0.6" ` +
          `opacity="${f(furrowOpacity)}"/>`,
      );
    }
  }

  // Eyes.
  for (const s of [-1, 1]) {
    const fore = 1 - 0.3 * yaw * s; // the far eye looks narrower
    const ew = id.eyeWidth * fore;
    const cx = s * id.eyeSpacing * (1 - 0.12 * yaw * s) + sx;
    const eh = id.eyeHeight;
    const up = Math.max(
      0.5,
      eh * (1 + 1.0 * a.upperLidRaise - 0.4 * a.lidTighten - 0.5 * a.lidDroop - 0.3 * a.cheekRaise -
        0.15 * a.browLower),
    );
    const lo = clamp(
      eh * (0.75 + 0.4 * a.upperLidRaise - 0.6 * a.lidTighten - 0.85 * a.cheekRaise),
      -0.45 * up,
      3 * eh,
    );
    const outerDrop = 1.1 * a.lidDroop - 0.4 * a.cheekRaise;
    const ix = cx - s * ew;
    const ox = cx + s * ew;
    const upper = `M ${f(ix)} ${f(eyeY)} C ${f(cx - s * ew * 0.5)} ${f(eyeY - 1.33 * up)} ${
      f(cx + s * ew * 0.45)
    } ${f(eyeY - 1.33 * up + 0.6 * outerDrop)} ${f(ox)} ${f(eyeY + outerDrop)}`;
    const lower = `C ${f(cx + s * ew * 0.45)} ${f(eyeY + 1.33 * lo + outerDrop * 0.3)} ${
      f(cx - s * ew * 0.5)
    } ${f(eyeY + 1.33 * lo)} ${f(ix)} ${f(eyeY)} Z`;
    const clipId = `eye${s > 0 ? "R" : "L"}`;
    push(`<defs><clipPath id="${clipId}"><path d="${upper} ${lower}"/></clipPath></defs>`);
    push(`<path d="${upper} ${lower}" fill="#f3efe8"/>`);
    const irisR = eh * 0.95;
    const gx = cx + scene.gaze[0] * ew * 0.3 + yaw * 0.8;
    const gy = eyeY + 0.2 + scene.gaze[1] * 0.6;
    push(
      `<g clip-path="url(#${clipId})"><circle cx="${f(gx)}" cy="${f(gy)}" r="${
        f(irisR)
      }" fill="${id.iris}"/>` +
        `<circle cx="${f(gx)}" cy="${f(gy)}" r="${f(irisR * 0.45)}" fill="#0a0a0a"/>` +
        `<circle cx="${f(gx + irisR * 0.35)}" cy="${f(gy - irisR * 0.35)}" r="${
          f(irisR * 0.18)
        }" fill="#ffffff" ` +
        `opacity="0.8"/></g>`,
    );
    // Lash line (upper lid) and lower lid.
    push(`<path d="${upper}" fill="none" stroke="#1d120c" stroke-width="1.05" stroke-linecap="round"/>`);
    push(
      `<path d="M ${f(ox)} ${
        f(eyeY + outerDrop)
      } ${lower}" fill="none" stroke="${line}" stroke-width="0.45"/>`,
    );
    // Upper lid crease: pushed up (AU5) or hidden (droop, AU7).
    const crease = up + 1.4 + 0.8 * a.upperLidRaise - 0.8 * a.lidDroop;
    push(
      `<path d="M ${f(ix + s * 0.8)} ${f(eyeY - 1)} Q ${f(cx)} ${f(eyeY - 2 * crease)} ${f(ox)} ${
        f(eyeY - 0.8 + outerDrop)
      }" fill="none" stroke="${line}" stroke-width="0.4" opacity="0.6"/>`,
    );
    // Tense lower lid / raised cheek bulge (AU6, AU7) and crow's feet (AU6).
    const bulge = clamp(0.8 * Math.max(a.cheekRaise, a.lidTighten) + 0.2 * id.wrinkles, 0, 0.8);
    if (bulge > 0.05) {
      push(
        `<path d="M ${f(ix)} ${f(eyeY + 1.6 + lo)} Q ${f(cx)} ${f(eyeY + 3.2 + 1.3 * lo)} ${f(ox)} ${
          f(eyeY + 1.2 + lo)
        }" fill="none" stroke="${line}" stroke-width="0.45" opacity="${f(bulge)}"/>`,
      );
    }
    const crow = clamp(0.9 * (a.cheekRaise - 0.2) + 0.25 * id.wrinkles, 0, 0.8);
    if (crow > 0.02) {
      for (const d of [-1.6, 0, 1.6]) {
        push(
          `<path d="M ${f(ox + s * 1.2)} ${f(eyeY + d * 0.6)} L ${f(ox + s * 3.5)} ${f(eyeY + d * 1.4)}" ` +
            `stroke="${line}" stroke-width="0.45" opacity="${f(crow)}"/>`,
        );
      }
    }
  }

  // Brows.
  for (const s of [-1, 1]) {
    const fore = 1 - 0.3 * yaw * s;
    const cx = s * id.eyeSpacing * (1 - 0.12 * yaw * s) + sx;
    const ew = id.eyeWidth * fore;
    const innerRaise = a.innerBrowRaise + id.restingBrow;
    const innerY = browBase - 4.6 * innerRaise - 2 * a.outerBrowRaise + 4.4 * a.browLower;
    const outerY = browBase - 5.4 * a.outerBrowRaise + 2 * a.innerBrowRaise - 1.2 * a.browLower + 0.5;
    // AU4 pulls the inner ends together.
    const ix = cx - s * (ew * 0.75 + 0.3) + s * 2.2 * a.browLower;
    const ox = cx + s * (ew * 1.25 + 1.2);
    const arch = 1.6 + 2.4 * a.outerBrowRaise - 1.5 * a.browLower - 0.5 * a.innerBrowRaise;
    push(
      `<path d="M ${f(ix)} ${f(innerY)} Q ${f((ix + ox) / 2 - s * 0.5)} ${
        f((innerY + outerY) / 2 - 2 * arch)
      } ${f(ox)} ${f(outerY)}" fill="none" stroke="${browColor}" stroke-width="${
        f(id.browThickness * fore)
      }" ` +
        `stroke-linecap="round"/>`,
    );
  }

  // Nose: bridge shadow, wings, nostrils; AU9 lifts and flares the wings and wrinkles the bridge.
  const lift = 1.7 * a.noseWrinkle + 0.6 * a.upperLipRaise;
  const nw = id.noseWidth + 0.9 * a.noseWrinkle;
  const nx = sx * 1.5;
  const shadeSide = Math.cos(lA) > 0 ? -1 : 1;
  push(
    `<path d="M ${f(shadeSide * 2 + sx)} ${f(eyeY + 2)} Q ${f(shadeSide * 2.4 + nx)} ${f(noseY - 6)} ${
      f(shadeSide * (nw - 0.8) + nx)
    } ${f(noseY - 2.2 - lift)}" fill="none" stroke="${skinDark}" stroke-width="0.7" opacity="0.55"/>`,
  );
  push(
    `<ellipse cx="${f(nx)}" cy="${f(noseY - 0.6 - lift * 0.5)}" rx="${
      f(nw * 0.55)
    }" ry="2.2" fill="${skinLight}" ` +
      `opacity="0.35"/>`,
  );
  for (const s of [-1, 1]) {
    push(
      `<path d="M ${f(s * nw + nx)} ${f(noseY - 2.4 - lift)} Q ${f(s * (nw + 1.1) + nx)} ${
        f(noseY + 0.8 - lift)
      } ${f(s * nw * 0.35 + nx)} ${
        f(noseY + 1.2 - lift * 0.6)
      }" fill="none" stroke="${line}" stroke-width="0.75" stroke-linecap="round"/>`,
    );
    push(
      `<ellipse cx="${f(s * nw * 0.5 + nx)}" cy="${f(noseY + 0.2 - lift * 0.7)}" rx="${
        f(1.15 + 0.3 * a.noseWrinkle)
      }" ` +
        `ry="0.65" fill="#2b150c" opacity="0.75" transform="rotate(${f(s * 15)} ${f(s * nw * 0.5 + nx)} ${
          f(noseY + 0.2 - lift * 0.7)
        })"/>`,
    );
  }
  const wrinkleOpacity = clamp(1.0 * (a.noseWrinkle - 0.1), 0, 0.85);
  if (wrinkleOpacity > 0.02) {
    for (let k = 0; k < 3; k++) {
      const y = eyeY + 2.2 + 1.5 * k;
      push(
        `<path d="M ${f(-2.6 + sx)} ${f(y + 0.5)} Q ${f(sx)} ${f(y - 0.8)} ${f(2.6 + sx)} ${
          f(y + 0.5)
        }" fill="none" ` +
          `stroke="${line}" stroke-width="0.5" opacity="${f(wrinkleOpacity)}"/>`,
      );
    }
  }

  // Mouth geometry.
  const mw = id.mouthWidth *
    (1 + 0.42 * a.lipStretch + 0.2 * a.lipCornerPull - 0.12 * a.lipTighten - 0.32 * a.lipFunnel +
      0.05 * a.jawDrop);
  const smile = a.lipCornerPull + Math.max(0, id.restingMouth);
  const frown = a.lipCornerDepress + Math.max(0, -id.restingMouth);
  const cornerY = mouthY - 6 * smile + 4.6 * frown + 1.2 * a.lipStretch;
  const asym = params.asymmetry * a.upperLipRaise;
  const cornerL = cornerY + 0.4 * asym;
  const cornerR = cornerY - 0.4 * asym;
  const upperMid = mouthY - 0.25 - 3.2 * a.upperLipRaise - 0.2 * a.jawDrop - 0.6 * a.chinRaise;
  const gap = Math.max(
    0,
    11 * a.jawDrop + 1.6 * a.upperLipRaise + 2 * a.lowerLipDepress +
      1.8 * a.lipCornerPull * (0.4 + a.jawDrop) -
      1.2 * a.lipPress - 0.8 * a.lipTighten - 0.2,
  );
  const lowerMid = upperMid + gap;
  const roundness = clamp(0.42 + 0.4 * a.lipFunnel - 0.2 * a.lipStretch, 0.2, 0.85);
  const mx = sx * 1.3;
  const lipScale = (1 - 0.7 * clamp(a.lipPress, 0, 1)) * (1 - 0.35 * clamp(a.lipTighten, 0, 1)) *
    (1 - 0.3 * clamp(a.lipStretch, 0, 1)) * (1 - 0.25 * clamp(a.lipCornerPull, 0, 1));
  const thU = id.lipThickness * lipScale + 0.5 * a.lipFunnel;
  const thL = id.lipThickness * 1.3 * lipScale + 0.5 * a.lipFunnel + 0.5 * a.chinRaise;
  // A cubic with both controls at height c has its midpoint at 0.25 * corner + 0.75 * c.
  const ctl = (mid: number, corner: number) => (mid - 0.25 * corner) / 0.75;
  const lx = -mw + mx;
  const rx = mw + mx;
  const cxL = -mw * roundness + mx;
  const cxR = mw * roundness + mx;
  const cornerMid = (cornerL + cornerR) / 2;
  const sneer = 1.4 * asym;
  const upperInner = `M ${f(lx)} ${f(cornerL)} C ${f(cxL)} ${f(ctl(upperMid, cornerMid) + sneer)} ${f(cxR)} ${
    f(ctl(upperMid, cornerMid) - sneer)
  } ${f(rx)} ${f(cornerR)}`;
  const lowerInnerBack = `C ${f(cxR)} ${f(ctl(lowerMid, cornerMid))} ${f(cxL)} ${
    f(ctl(lowerMid, cornerMid))
  } ${f(lx)} ${f(cornerL)} Z`;
  const upperOuter = `M ${f(lx)} ${f(cornerL)} C ${f(cxL)} ${f(ctl(upperMid - thU, cornerMid) + sneer)} ${
    f(cxR)
  } ${f(ctl(upperMid - thU, cornerMid) - sneer)} ${f(rx)} ${f(cornerR)}`;
  const lowerOuterBack = `C ${f(cxR)} ${f(ctl(lowerMid + thL, cornerMid))} ${f(cxL)} ${
    f(ctl(lowerMid + thL, cornerMid))
  } ${f(lx)} ${f(cornerL)} Z`;

  // Nasolabial folds: deepened by smiling, sneering and the raised cheek.
  const foldOpacity = clamp(
    0.12 + 0.1 * id.wrinkles +
      0.6 *
        Math.max(
          a.cheekRaise,
          0.9 * a.lipCornerPull,
          a.noseWrinkle,
          0.8 * a.upperLipRaise,
          0.6 * a.lipStretch,
        ),
    0,
    0.85,
  );
  for (const s of [-1, 1]) {
    const endX = s * (mw + 2.2) + mx;
    push(
      `<path d="M ${f(s * (nw + 1.4) + nx)} ${f(noseY - 1.8 - lift)} Q ${f(s * (mw + 3.4) + mx)} ${
        f((noseY + cornerY) / 2 + 0.5)
      } ${f(endX)} ${
        f(Math.max(cornerY + 2.5, mouthY + 1))
      }" fill="none" stroke="${line}" stroke-width="0.6" ` +
        `opacity="${f(foldOpacity)}"/>`,
    );
  }

  // Lips, mouth cavity, teeth.
  push(`<path d="${upperOuter} ${lowerOuterBack}" fill="${id.lips}"/>`);
  if (gap > 0.35) {
    const cavity = `${upperInner} ${lowerInnerBack}`;
    push(`<defs><clipPath id="mouth"><path d="${cavity}"/></clipPath></defs>`);
    push(`<path d="${cavity}" fill="#2a0b0d"/>`);
    // Teeth show under a raised upper lip, in a smile and a stretched mouth; a rounded mouth hides them.
    const hide = 1 - 0.9 * clamp(a.lipFunnel * 2, 0, 1);
    const teeth = (1.7 + 0.7 * a.upperLipRaise + 0.4 * a.lipCornerPull) * hide;
    const lowerTeeth = (0.4 + 1.4 * a.lowerLipDepress + 0.6 * a.lipStretch) * hide;
    push(
      `<g clip-path="url(#mouth)"><path d="${upperInner} L ${f(rx)} ${f(cornerR + teeth)} C ${f(cxR)} ${
        f(ctl(upperMid + teeth, cornerMid) - sneer)
      } ${f(cxL)} ${f(ctl(upperMid + teeth, cornerMid) + sneer)} ${f(lx)} ${
        f(cornerL + teeth)
      } Z" fill="#efebe0"/>` +
        `<path d="M ${f(lx)} ${f(cornerL)} C ${f(cxL)} ${f(ctl(lowerMid, cornerMid))} ${f(cxR)} ${
          f(ctl(lowerMid, cornerMid))
        } ${f(rx)} ${f(cornerR)} L ${f(rx)} ${f(cornerR - lowerTeeth)} C ${f(cxR)} ${
          f(ctl(lowerMid - lowerTeeth, cornerMid))
        } ${f(cxL)} ${f(ctl(lowerMid - lowerTeeth, cornerMid))} ${f(lx)} ${f(cornerL - lowerTeeth)} Z" ` +
        `fill="#e4dfd2"/></g>`,
    );
    push(`<path d="${cavity}" fill="none" stroke="#2a0c0a" stroke-width="0.7"/>`);
  } else {
    push(`<path d="${upperInner}" fill="none" stroke="#2a0c0a" stroke-width="1.1" stroke-linecap="round"/>`);
  }
  // Chin boss (AU17).
  const chinOpacity = clamp(0.9 * (a.chinRaise - 0.15), 0, 0.7);
  if (chinOpacity > 0.02) {
    const y = lowerMid + thL + 3;
    push(
      `<path d="M ${f(-4 + mx)} ${f(y + 0.8)} Q ${f(mx)} ${f(y - 1)} ${f(4 + mx)} ${
        f(y + 0.8)
      }" fill="none" ` +
        `stroke="${line}" stroke-width="0.55" opacity="${f(chinOpacity)}"/>`,
    );
  }
  // Facial hair.
  if (id.beard) {
    push(
      `<path d="M ${f(-W * 0.85)} ${f(H * 0.2)} C ${f(-W * 0.8)} ${f(H * 0.9)} ${f(-W * 0.3)} ${
        f(chinY + 2)
      } 0 ${f(chinY + 2)} C ${f(W * 0.3)} ${f(chinY + 2)} ${f(W * 0.8)} ${f(H * 0.9)} ${f(W * 0.85)} ${
        f(H * 0.2)
      } ` +
        `C ${f(W * 0.5)} ${f(lowerMid + thL + 5)} ${f(-W * 0.5)} ${f(lowerMid + thL + 5)} ${f(-W * 0.85)} ${
          f(H * 0.2)
        } Z" fill="${id.hair}" opacity="0.85"/>`,
    );
  }
  if (id.moustache) {
    const y = upperMid - thU - 0.6;
    push(
      `<path d="M ${f(-mw - 1 + mx)} ${f(cornerL + 0.5)} Q ${f(mx)} ${f(y - 3.5)} ${f(mw + 1 + mx)} ${
        f(cornerR + 0.5)
      } Q ${f(mx)} ${f(y - 0.5)} ${f(-mw - 1 + mx)} ${f(cornerL + 0.5)} Z" fill="${id.hair}" opacity="0.9"/>`,
    );
  }

  // Hair on top.
  const hairTop = -H * 1.02;
  // Control height that puts the top of the hair cap 4.5 units above the skull.
  const capControl = (-H - 4.5 - 0.25 * (eyeY + 2)) / 0.75;
  const hl = eyeY - id.hairline;
  if (id.hairStyle === 0 || id.hairStyle === 1 || id.hairStyle === 3 || id.hairStyle === 4) {
    const fringe = id.hairStyle === 3 ? browBase - 1.5 : hl;
    push(
      `<path d="M ${f(-W - 1.5)} ${f(eyeY + 2)} C ${f(-W - 3)} ${f(capControl)} ${f(W + 3)} ${
        f(capControl)
      } ${f(W + 1.5)} ${f(eyeY + 2)} L ${f(W - 1.5)} ${f(eyeY - 1)} C ${f(W * 0.7)} ${f(fringe - 3)} ${
        f(W * 0.35)
      } ${f(fringe)} ` +
        `${f(0)} ${f(fringe)} C ${f(-W * 0.35)} ${f(fringe)} ${f(-W * 0.7)} ${f(fringe - 3)} ${f(-W + 1.5)} ${
          f(eyeY - 1)
        } Z" fill="${id.hair}"/>`,
    );
    if (id.hairStyle === 4) {
      for (let k = 0; k < 9; k++) {
        const t = (k / 8) * Math.PI;
        push(
          `<circle cx="${f(-Math.cos(t) * (W + 1))}" cy="${f(hairTop * 0.55 - Math.sin(t) * 14)}" r="6" ` +
            `fill="${id.hair}"/>`,
        );
      }
    }
  } else {
    // A shaved head: a faint band just inside the skull's outline.
    const baldControl = (-H + 3 - 0.25 * (hl - 4)) / 0.75;
    push(
      `<path d="M ${f(-W * 0.9)} ${f(hl - 4)} C ${f(-W * 0.7)} ${f(baldControl)} ${f(W * 0.7)} ${
        f(baldControl)
      } ${f(W * 0.9)} ${f(hl - 4)}" fill="none" stroke="${id.hair}" stroke-width="3" opacity="0.25"/>`,
    );
  }

  // Occluders attached to the face.
  const occ = scene.occlusion;
  if (occ.kind === "glasses" || occ.kind === "sunglasses") {
    const rw = id.eyeWidth + 2.6 + 1.2 * occ.w;
    const rh = 4.6 + 1.5 * occ.h;
    for (const s of [-1, 1]) {
      const cx = s * id.eyeSpacing * (1 - 0.12 * yaw * s) + sx;
      push(
        `<rect x="${f(cx - rw)}" y="${f(eyeY - rh * 0.55)}" width="${f(2 * rw)}" height="${
          f(2 * rh * 0.9)
        }" ` +
          `rx="${f(1.5 + 2.5 * occ.h)}" fill="${occ.kind === "sunglasses" ? occ.color : "#e8f0f5"}" ` +
          `fill-opacity="${
            occ.kind === "sunglasses" ? "0.92" : "0.12"
          }" stroke="${occ.color}" stroke-width="1.1"/>`,
      );
    }
    push(
      `<path d="M ${f(-id.eyeSpacing + id.eyeWidth + 2.4 + sx)} ${f(eyeY - 1)} Q ${f(sx)} ${f(eyeY - 3)} ${
        f(id.eyeSpacing - id.eyeWidth - 2.4 + sx)
      } ${f(eyeY - 1)}" fill="none" stroke="${occ.color}" stroke-width="1.1"/>`,
    );
  } else if (occ.kind === "hat") {
    const brim = browBase - 4 - 5 * occ.y;
    push(
      `<path d="M ${f(-W - 4)} ${f(brim)} C ${f(-W - 2)} ${f(hairTop - 14)} ${f(W + 2)} ${f(hairTop - 14)} ${
        f(W + 4)
      } ${f(brim)} Z" fill="${occ.color}"/>`,
    );
    push(
      `<rect x="${f(-W - 6 - 4 * occ.w)}" y="${f(brim - 1.5)}" width="${
        f(2 * W + 12 + 8 * occ.w)
      }" height="3" ` +
        `rx="1.5" fill="${mixColor(occ.color, "#000000", 0.3)}"/>`,
    );
  } else if (occ.kind === "hand") {
    const hx = occ.x * 20;
    const hy = 14 + 18 * occ.y;
    const hw = 11 + 5 * occ.w;
    const hh = 8 + 4 * occ.h;
    const handSkin = mixColor(id.skin, "#ffffff", 0.05);
    push(
      `<g transform="rotate(${f(occ.rotation)} ${f(hx)} ${f(hy)})"><ellipse cx="${f(hx)}" cy="${f(hy)}" rx="${
        f(hw)
      }" ry="${f(hh)}" fill="${handSkin}" stroke="${skinDark}" stroke-width="0.6"/>` +
        [-0.5, 0, 0.5].map((t) =>
          `<path d="M ${f(hx - hw * 0.8)} ${f(hy + t * hh)} L ${f(hx + hw * 0.6)} ${f(hy + t * hh * 1.1)}" ` +
          `stroke="${skinDark}" stroke-width="0.5" opacity="0.7"/>`
        ).join("") + `</g>`,
    );
  }
  push("</g>");

  // Occluders in image space.
  if (occ.kind === "bar") {
    push(
      `<rect x="${f(occ.x - occ.w / 2)}" y="${f(occ.y - occ.h / 2)}" width="${f(occ.w)}" height="${
        f(occ.h)
      }" ` +
        `fill="${occ.color}" transform="rotate(${f(occ.rotation)} ${f(occ.x)} ${f(occ.y)})"/>`,
    );
  }
  // Directional light.
  if (scene.lightStrength > 0.005) push(`<rect width="100" height="100" fill="url(#light)"/>`);
  push("</svg>");
  return out.join("");
}

/**
 * Renders one face to image bytes: JPEG (the dataset's format, with the scene's quality), PNG, or raw
 * RGB pixels (`size * size * 3` bytes).
 */
export async function renderFaceImage(
  params: FaceParams,
  size: number,
  format: FaceFormat = "jpeg",
): Promise<Uint8Array> {
  const scene = params.scene;
  const svg = faceSvg(params, size);
  let image = sharp(Buffer.from(svg)).resize(size, size).removeAlpha();
  if (scene.blur > 0) {
    const sigma = scene.blur * size / 112;
    if (sigma >= 0.3) image = image.blur(sigma);
  }
  if (scene.contrast !== 1 || scene.brightness !== 0) {
    image = image.linear(scene.contrast, 128 * (1 - scene.contrast) + scene.brightness);
  }
  const needsPixels = scene.noise > 0 || scene.grayscale || format === "raw";
  if (!needsPixels) {
    const out = format === "png"
      ? await image.png().toBuffer()
      : await image.jpeg({ quality: scene.quality }).toBuffer();
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }
  const { data, info } = await image.raw().toBuffer({ resolveWithObject: true });
  const pixels = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const channels = info.channels;
  if (scene.grayscale) {
    for (let i = 0; i < pixels.length; i += channels) {
      const y = 0.299 * pixels[i] + 0.587 * pixels[i + 1] + 0.114 * pixels[i + 2];
      pixels[i] = pixels[i + 1] = pixels[i + 2] = y;
    }
  }
  if (scene.noise > 0) {
    const random = new Random(scene.noiseSeed);
    for (let i = 0; i < pixels.length; i += channels) {
      // Luminance noise plus a little chroma noise, like a camera sensor.
      const common = random.normal(0, scene.noise);
      for (let c = 0; c < 3; c++) {
        pixels[i + c] = clamp(
          Math.round(pixels[i + c] + common + random.normal(0, scene.noise * 0.3)),
          0,
          255,
        );
      }
    }
  }
  if (format === "raw") return pixels;
  const raw = sharp(pixels, { raw: { width: info.width, height: info.height, channels } });
  const out = format === "png"
    ? await raw.png().toBuffer()
    : await raw.jpeg({ quality: scene.quality }).toBuffer();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
