import assert from "node:assert/strict";
import { Random } from "../engine/random.ts";
import {
  affine,
  autoContrast,
  brightness,
  color,
  contrast,
  crop,
  equalize,
  fiveCrop,
  hflip,
  IMAGENET_MEAN,
  IMAGENET_STD,
  invert,
  normalizeInto,
  posterize,
  randomErasingInPlace,
  type RgbImage,
  rgbImage,
  rotate,
  sharpness,
  shearX,
  shearY,
  solarize,
  solarizeAdd,
  tenCrop,
  translateX,
  translateY,
} from "../datasets/transforms.ts";

// Outputs of Pillow 9.4 on a 9x7 RGB image (ImageOps / ImageEnhance / Image.rotate /
// Image.transform(AFFINE) with fillcolor (124, 116, 104)), hex-encoded row-major RGB bytes.
const GOLDEN_INPUT =
  "58d089769341a18e1e51484fb26b5fbc35205174d3555b74c9d8204051863faac44736662bcbba63d435a5ca758487d49929185d55956bd2b296829bb81d4939d728945e4d80b027c6aa32936f56313898d955da6d8364da4bd0c06883a6c2d1c84c95aed08d7a1a4ca79fc270d63659314f4733c166b69ed4c6b2bf689472423f7a4f2e6434a1a43f84339668264e18648317b03b8650143e99d7d7814cc8d3244a1bce39842da59dca5731d72e812b525e4dc81a24cbcd58b89f2aa5";
const GOLDEN: Record<string, string> = {
  "invert":
    "a72f76896cbe5e71e1aeb7b04d94a043cadfae8b2caaa48b3627dfbfae79c0553bb8c999d434459c2bca5a358a7b782b66d6e7a2aa6a942d4d697d6447e2b6c628d76ba1b27f4fd83955cd6c90a9cec76726aa25927c9b25b42f3f977c593d2e37b36a512f7285e5b358603d8f29c9a6ceb0b8cc3e9949612b394d40976b8dbdc085b0d19bcb5e5bc07bcc6997d9b1e79b7ce84fc479afebc16628287eb3372cdbb5e431c67bd25a6235a8ce28d17ed4ada1b237e5db3432a74760d55a",
  "solarize128":
    "582f76766c415e711e51484f4d6b5f43352051742c555b743627204051793f553b4736662b3445632b355a35757b782b6629185d556a6b2d4d697d64471d493928286b5e4d7f4f273955326c6f563138672655256d7c64254b2f3f687c593d2e374c6a512f727a1a4c58603d70293659314f47333e6649612b394d40686b72423f7a4f2e64345e5b3f7b336968264e18647c174f3b7950143e6628287e4c372c244a1b31397b2d5a62355731282e7e2b525e4d371a2434325847602a5a",
  "solarize50":
    "a72f76896cbe5e711eaeb7b04d94a043ca20ae8b2caaa48b362720bfae79c0553bb8c9992b34459c2bca5a358a7b782b662918a2aa6a942d4d697d64471db6c628286ba1b27f4f273955cd6c90a931c76726aa25927c9b25b42f3f977c593d2e37b36a512f72851ab358603d8f29c9a631b0b8cc3e9949612b394d40976b8dbdc085b02e9bcb5e5bc07bcc699726b1189b7c174fc479af14c16628287eb3372c24b51b31c67b2d5a6235a831282e7e2bada1b2371a243432a747602a5a",
  "solarizeAdd50":
    "8ad089a89373a18e50837a81b29d91bc675283a6d3878da6c9d85272838671aac47968985dcbba95d467a5caa78487d4995b4a8f87959dd2b296829bb84f7b6bd75a94907f80b059c6aa6493a188636a98d987da9f8396da7dd0c09a83a6c2d1c87e95aed08dac4c7ea79fc2a2d6688b63817965c198b69ed4c6b2bf9a94a47471ac81609666a1a4718465969a58804a968349b06d8682467099d7d7817ec8d3567c4dce6b845fa59dca8963d760815d84907fc84c56cbcd8ab89f5ca5",
  "posterize2":
    "40c0804080408080004040408040408000004040c0404040c0c0004040800080c040004000c08040c00080c0408080c080000040408040c08080808080004000c000804040808000c08000804040000080c040c0408040c040c0c0408080c0c0c0408080c0804000408080c040c0004000404000c0408080c0c08080408040400040400040008080008000804000400040800080008040000080c0c08040c0c0004000c00080008080c04000c0008000404040c00000c0c04080800080",
  "posterize0":
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
  "autocontrast":
    "52f4957aa536b39e09494349c9715ed72a0b497cf54e5c79e8ff0b324f9131c3e23b2c6716eed560f927b8ec7a8c95f7a81b015854a46bf7caa48facd10b4129fd16a2604687ca14e4c323a076521e2ea8fd54ff6e9064ff47f1dc6d8db9e2f3e748a4c4f49a7f0745bbb4df72fc285325493b28de64d2b0f7e7cadb6da3743b347f4c1e6229b4b7378e21a9690f4b01629000c73291470033a8fdfb8848e7f5144201f12c8c20b9adec531efd1e881d4d5a4ae70014ebed58d2b01cb9",
  "equalize":
    "58d089769341a18e1e51484fb26b5fbc35205174d3555b74c9d8204051863faac44736662bcbba63d435a5ca758487d49929185d55956bd2b296829bb81d4939d728945e4d80b027c6aa32936f56313898d955da6d8364da4bd0c06883a6c2d1c84c95aed08d7a1a4ca79fc270d63659314f4733c166b69ed4c6b2bf689472423f7a4f2e6434a1a43f84339668264e18648317b03b8650143e99d7d7814cc8d3244a1bce39842da59dca5731d72e812b525e4dc81a24cbcd58b89f2aa5",
  "color0.3":
    "8db19b7d866d8e89674c4a4c8e7975784f49697490595b63c2c68f4c516175959d423d4c78a8a28daf7fb0bba18b8ca3613f3a5e5c6f9bbab08e888f6f404d78a8737867628c9b71aea6827f746d3c3e5ba37ba3757c729e739b967c84b4bdc1906b81b9c3af4e3140a5a3ad95b383473b4448426d8ba39bcbc7c1977d8a5a4b4a62554b55466777596e5f7d6f3541316a73537c5970362430b7c9c9706186804b57669c6f63496da9b79474a67459404b5f5a7f2c2f619b78956f4c71",
  "color1.7":
    "22ee766e9f14b39200554551d55d48ff1a003874ff505a84d0e9003350aa08beea4b2e7f00eed138f80099d8487c81ffd112005b4eba3ae9b39d7ba6ff004400ff00b0543773c500ddad00a6693e2531d4ff2eff648a55ff22ffe9538197c6e0ff2ca8a2dc6aa50257a89ad64af8006a26594523ff40c8a0dcc4a2e6529d8938339148107221dad0249906ae60165a005d9200e31c9b69034b7ae4e49137ffff003c00ff02a411dd90dc1900ff00a816585c3fff0718fffe37dbce07d8",
  "contrast0.4":
    "6b9b7e7782628880546864678f726e935d5468769c6a6c76989e5461687d618c96645d705999926f9c5d8a98767c7e9c8558516d6a83729c8f847c869153655e9e58836d667b8e57978c5c82746a5b5e849e6a9f737c709f669b94717c8a959b9866838d9b807852668a8795749d5d6b5b67645c957090879c978f94718375626178675a705c8889617c5c8471576751707c518e5f7d685060859e9e7b66989c5665529a5e7c5a8a86986a5b9e5a7b59686d66985256999a6b9187588a",
  "contrast1.6":
    "44ff9374a320b99b00392b36d46350e40c003971ff404971f9ff001e398e1cc8f1290e5b00fce156ff0cc0fb738b90ffac00004c40a663ffd4a888b0de002c13ff00a44e3384d100f4c808a369410611abff40ff668958ff30ffeb5e89c1eefff831a6ceff997b0031c3b6ee6bff0e4606362909ec5bdbb4fff4d4e95ea46e211c7b3601580bb9be1c8b09a85e003400588900d1168e38001bacffff8631f8ff002e00ff138b00c0b3fb4306ff0186003b4e33f80000fcff44deb600c0",
  "brightness0.6":
    "347c52465827605512302b2f6a4039701f1330457e3336457881132630502566752a203d19796f3b7f1f6379464f517f5b180e373359407e6a5a4e5d6e112b22811858382e4c691776661e5842331d215b823382414e3c822d7c733e4e63747d782d59687c54490f2d645f74438020351d2f2a1e733d6d5e7f766a723e58442725492f1b3c1f6062254f1e5a3e162e0e3c4e0d692350300c255b81814d2d787e152c107b224f1b635e79341d811b4d1931382e780f15797b346e5f1963",
  "brightness1.5":
    "84ffcdb1dc61f1d52d796c76ffa08eff4f3079aeff7f88aeffff306079c95effff6a519940ffff94ff4ff7ffafc6caffe53d248b7fdfa0ffffe1c3e8ff2b6d55ff3cde8d73c0ff3affff4bdca6814954e4ff7fffa3c496ff70ffff9cc4f9ffffff72dfffffd3b72772faeeffa8ff518549766a4cff99ffedffffffff9cdeab635eb77645964ef1f65ec64ce19c39752496c422ff58c9781e5de5ffffc172ffff366f28ff55c643f7ebff8249ff45c1407b8d73ff2736ffff84ffee3ff7",
  "sharpness0.2":
    "58d089769341a18e1e51484fb26b5fbc35205174d3555b74c9d8204051865a9399585f66529f806fb0449aa76a897f948a514a5d55956bd2b28b759994516961a8548c846090a852af924d8d6e69313898d955da7d767aa95ca2a874889fa9a2b77083a39b707f445da79fc270d636694d675b51957b9293b59a98af749182525f865b5c6434a1a43f844a84654166406c814394597b6c3b6a898fb1844ca9d3244a1bce39842da59dca5731d72e812b525e4dc81a24cbcd58b89f2aa5",
  "sharpness1.9":
    "58d089769341a18e1e51484fb26b5fbc35205174d3555b74c9d82040518620c3f333076500fbfa55fb23b0f0807d8fffa900005d55956bd2b2a1909cdf00240bff009d32376eb800dfc513996f40313898d955da5a914aff37ffda597cadddffda22a8b9ffad730038a79fc270d6364611333010f24ddda9f6f7ced05996602f1a6c40006434a1a43f8418a96a0732005b8400cf189130000babffff7d4cead3244a1bce39842da59dca5731d72e812b525e4dc81a24cbcd58b89f2aa5",
  "rotate17bilinear":
    "7c74687c7468534a4daa685db64e30737abb8246546b49757c74686ea15283833a4f7c6e5bb96389c8579aa879a27b546755724f52a244819b5273965e696451b64a8f7747a1984daca56581335f9888ba69b3a996758cbe3a7c98896ba6c2d1c459968f7a64794934773685c16fd17b77739649b38183a1b3c0acb06e8c857180877cb4ad378a8ab460637b45444670496951846c4d872e6f57499c5b4dc8c14cb37c746887557c497668649a3841b8307e2d5b5b4bc87c74687c7468",
  "rotate-23bicubic":
    "7c74684582973fa9c6585d4f4865669c59687c74687c74687c7468d667f892a6b0af407d574b462bf1987ecb33b36d505272d13e59949abb6a6a6d54ce52b1a579476f8f4781a2299eca937f539d844a2c797b573f1f676f47e7b287a7a6c2d1a66868c8c12db47f3f522f74596c8e227132315e2fa2be8fe4b0b8c4539090a2707b27615762ae9e20b09cce5542b916a035686e0d4188736e734e25734970a4a0d67c74687c74687c7468841d734742b476adf28049c3a222607c7468",
  "rotate30nearest":
    "7c74687c74687c7468bc35205174d38487d49929183138987c74687c7468a18e1e51484f63d435a5ca75c6aa32936f56a79fc2a79fc27693414736662bcbba945e4d80b027c84c95aed08d7a4f2e6434a13faac496829bb81d49c06883a6c2d1bf689472423f814cc8814cc86bd2b296829bda4bd0c06883d4c6b2d4c6b250143e99d7d7cd58b8d955dad955da59314f4733c1648317b03b865e4dc81a24cb7c74687c746870d636339668264e1831d72e31d72e7c74687c74687c7468",
  "rotate180":
    "9f2aa5cd58b81a24cb5e4dc8812b5231d72e9dca57842da51bce39d3244a814cc899d7d750143eb03b86648317264e18339668a43f846434a17a4f2e72423fbf6894d4c6b266b69e4733c159314f70d636a79fc27a1a4caed08dc84c95a6c2d1c06883da4bd06d8364d955da313898936f56c6aa3280b027945e4d39d728b81d4996829b6bd2b25d55959929188487d4a5ca7563d4352bcbba4736663faac4405186c9d820555b745174d3bc3520b26b5f51484fa18e1e76934158d089",
  "shearX0.3bilinear":
    "5cc67e7c923b9583255f4d51b36255ab3e3a5170c4666d67c9d8203f79a14275993a798b44cf7e80cf5196ab9f8d5c7f7d3c505d55958b96a0af365d58a8307d7c43859b30b4ab2f9f7d4d4945877c7468728069d84cccbe6c86a7bccec65294abc6897c2051a79fc27c74685231765160b48cbba5cca5a7a45a767446397245566434a17c74682a67344e701795545f7121577f92a1897ccdb631767c74687c74689bc25a36d6307d33505f4bc21d26cac455b8a12ca57c74687c7468",
  "shearY-0.2bicubic":
    "59da897e8f2dac99157c74687c74687c74687c74687c74687c74683e538242a8a2656545446e78a9765abd28194971d24c617f7c74685dceaa7e8fb770184f21e89861cf32aabd726a7ceb77393eabb242d658e3818c75e9338a69b22c995e5c7dbc26b89b55a1502c3832a477d440623a4e9841eeb872a0accbd8c15389c2db7285465c5259a7a84380318156152e625bac78d4b8abc96b9c7c5945762a289d8fc329be416952945d8f2254940aa82e7d59183b9cbba67452797e1f7c",
  "translateX2.5bilinear":
    "796b36815957b7503f8654795367a38f994a7c74687c74687c746839809047cf7784cf5594a8a48e58767b3f567c74687c74687c7468787a38669a3a8a873aa3ad2cac8c446253777c74687c74687c7468cd59a9b395aab787b3bb8e9194756c905c877c74687c74687c74685674af9dbea8c997a39855697648366f41677c74687c74687c74684568178a5f4e80276274758a8d91cfaa38897c74687c74687c746867d0425981406f3c8d3c38c9733ec1b641ae7c74687c74687c7468",
  "translateY-1.7bicubic":
    "7c74687c74687c74687c74687c74687c74687c74687c74687c74687c74687c74687c74687c74687c74687c74687c74687c74687c74684ea185609c6a7e7535446e78979150b7633e5c77dd694754abb242426c9053a1ce591e5f21e89864b92d91de63a0919da23c1d3832a498b7ce978185dc286e69b22c9d6a7a908c3cccc33a8a5c5e5259a7c672a9636454b448e9b872a0b8daddd64aaa96a179751d379d8fc378b23a45494f1f2f885bac78d29da39b4f717c65617755587e1f7c",
  "shearX-0.25nearest":
    "58d089769341a18e1e51484fb26b5fbc35205174d3555b74c9d8204051863faac44736662bcbba63d435a5ca758487d49929185d55957c74686bd2b296829bb81d4939d728945e4d80b027c6aa32936f567c7468d955da6d8364da4bd0c06883a6c2d1c84c95aed08d7a1a4c7c746870d63659314f4733c166b69ed4c6b2bf689472423f7a4f2e7c7468a43f84339668264e18648317b03b8650143e99d7d7814cc87c74687c74681bce39842da59dca5731d72e812b525e4dc81a24cb",
};

function fromHex(hex: string): Uint8Array {
  return Uint8Array.from({ length: hex.length / 2 }, (_, i) => parseInt(hex.slice(2 * i, 2 * i + 2), 16));
}

function image(w: number, h: number, values: number[]): RgbImage {
  return rgbImage(Uint8Array.from(values), w, h);
}

/** A w x h image whose pixel (x, y) is [10 x + 1, 10 y + 2, 50]. */
function ramp(w: number, h: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) data.set([10 * x + 1, 10 * y + 2, 50], (y * w + x) * 3);
  }
  return rgbImage(data, w, h);
}

function pixel(img: RgbImage, x: number, y: number): number[] {
  const at = (y * img.width + x) * 3;
  return [...img.data.subarray(at, at + 3)];
}

const FILL = [124, 116, 104] as const;
const input = rgbImage(fromHex(GOLDEN_INPUT), 9, 7);

Deno.test("transforms match Pillow 9.4 exactly on every operation", () => {
  const ours: Record<string, RgbImage> = {
    "invert": invert(input),
    "solarize128": solarize(input, 128),
    "solarize50": solarize(input, 50),
    "solarizeAdd50": solarizeAdd(input, 50),
    "posterize2": posterize(input, 2),
    "posterize0": posterize(input, 0),
    "autocontrast": autoContrast(input),
    "equalize": equalize(input),
    "color0.3": color(input, 0.3),
    "color1.7": color(input, 1.7),
    "contrast0.4": contrast(input, 0.4),
    "contrast1.6": contrast(input, 1.6),
    "brightness0.6": brightness(input, 0.6),
    "brightness1.5": brightness(input, 1.5),
    "sharpness0.2": sharpness(input, 0.2),
    "sharpness1.9": sharpness(input, 1.9),
    "rotate17bilinear": rotate(input, 17, { fill: FILL, interpolation: "bilinear" }),
    "rotate-23bicubic": rotate(input, -23, { fill: FILL, interpolation: "bicubic" }),
    "rotate30nearest": rotate(input, 30, { fill: FILL, interpolation: "nearest" }),
    "rotate180": rotate(input, 180, { fill: FILL }),
    "shearX0.3bilinear": shearX(input, 0.3, { fill: FILL, interpolation: "bilinear" }),
    "shearY-0.2bicubic": shearY(input, -0.2, { fill: FILL, interpolation: "bicubic" }),
    "translateX2.5bilinear": translateX(input, 2.5, { fill: FILL, interpolation: "bilinear" }),
    "translateY-1.7bicubic": translateY(input, -1.7, { fill: FILL, interpolation: "bicubic" }),
    "shearX-0.25nearest": shearX(input, -0.25, { fill: FILL, interpolation: "nearest" }),
  };
  assert.deepEqual(Object.keys(ours).sort(), Object.keys(GOLDEN).sort());
  for (const [name, out] of Object.entries(ours)) {
    assert.deepEqual([...out.data], [...fromHex(GOLDEN[name])], name);
  }
});

Deno.test("transforms leave their input untouched", () => {
  const copy = input.data.slice();
  invert(input);
  equalize(input);
  rotate(input, 12);
  sharpness(input, 1.5);
  assert.deepEqual(input.data, copy);
});

Deno.test("invert() twice is the identity", () => {
  assert.deepEqual(invert(invert(input)).data, input.data);
  assert.deepEqual([...invert(image(1, 1, [0, 128, 255])).data], [255, 127, 0]);
});

Deno.test("solarize() inverts only values at or above the threshold", () => {
  assert.deepEqual([...solarize(image(2, 1, [0, 127, 128, 129, 200, 255]), 128).data], [
    0,
    127,
    127,
    126,
    55,
    0,
  ]);
  assert.deepEqual(solarize(input, 256).data, input.data);
  assert.deepEqual(solarize(input, 0).data, invert(input).data);
});

Deno.test("solarizeAdd() adds below the threshold and saturates", () => {
  assert.deepEqual([...solarizeAdd(image(2, 1, [0, 100, 127, 128, 200, 255]), 110).data], [
    110,
    210,
    237,
    128,
    200,
    255,
  ]);
  assert.deepEqual([...solarizeAdd(image(1, 1, [120, 10, 127]), 200).data], [255, 210, 255]);
});

Deno.test("posterize() keeps the high bits", () => {
  const src = image(2, 1, [255, 127, 64, 63, 1, 200]);
  assert.deepEqual([...posterize(src, 1).data], [128, 0, 0, 0, 0, 128]);
  assert.deepEqual([...posterize(src, 2).data], [192, 64, 64, 0, 0, 192]);
  assert.deepEqual([...posterize(src, 4).data], [240, 112, 64, 48, 0, 192]);
  assert.deepEqual(posterize(src, 8).data, src.data);
  assert.deepEqual([...posterize(src, 0).data], [0, 0, 0, 0, 0, 0]);
});

Deno.test("autoContrast() stretches each channel to 0..255 and keeps constant channels", () => {
  const out = autoContrast(image(3, 1, [50, 7, 0, 100, 7, 10, 150, 7, 20]));
  assert.deepEqual([...out.data], [0, 7, 0, 127, 7, 127, 255, 7, 255]);
});

Deno.test("equalize() spreads a histogram over 0..255", () => {
  // Red: four pixels of 10 and four of 20 -> step = (8 - 4) // 255 = 0 -> unchanged.
  // Green: 256 pixels spread over four values -> cumulative histogram lookup.
  const w = 16, h = 16;
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) data.set([i < 128 ? 10 : 20, [30, 60, 90, 120][i % 4], 77], i * 3);
  const out = equalize(rgbImage(data, w, h));
  // step = (256 - 64) // 255 = 0 for green too: identity (Pillow's rule for small images).
  assert.deepEqual(out.data, data);
  const big = new Uint8Array(32 * 32 * 3);
  for (let i = 0; i < 1024; i++) big.set([[30, 60, 90, 120][i % 4], 5, 5], i * 3);
  const eq = equalize(rgbImage(big, 32, 32));
  // Red: step = (1024 - 256) // 255 = 3; lut[v] = (1 + count below v) // 3.
  assert.deepEqual([pixel(eq, 0, 0)[0], pixel(eq, 1, 0)[0], pixel(eq, 2, 0)[0], pixel(eq, 3, 0)[0]], [
    0,
    85,
    171,
    255,
  ]);
  assert.equal(pixel(eq, 0, 0)[1], 5); // a single-valued channel is left alone
});

Deno.test("color(), contrast(), brightness(), sharpness() with factor 1 are the identity", () => {
  for (const op of [color, contrast, brightness, sharpness]) {
    assert.deepEqual(op(input, 1).data, input.data, op.name);
  }
});

Deno.test("color(0) is grey, contrast(0) is flat, brightness(0) is black, sharpness(0) is smoothed", () => {
  const grey = color(input, 0);
  for (let i = 0; i < grey.data.length; i += 3) {
    assert.equal(grey.data[i], grey.data[i + 1]);
    assert.equal(grey.data[i + 1], grey.data[i + 2]);
  }
  const flat = contrast(input, 0);
  assert.equal(new Set(flat.data).size, 1);
  assert.ok(brightness(input, 0).data.every((v) => v === 0));
  const spot = image(3, 3, [
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    130,
    130,
    130,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
  ]);
  const smooth = sharpness(spot, 0);
  assert.deepEqual(pixel(smooth, 1, 1), [50, 50, 50]); // 130 * 5 / 13
  assert.deepEqual(pixel(smooth, 0, 0), [0, 0, 0]); // borders are kept
});

Deno.test("rotate() by 0 and 360 degrees is the identity; 90 on a square image moves pixels exactly", () => {
  assert.deepEqual(rotate(input, 0).data, input.data);
  assert.deepEqual(rotate(input, 360).data, input.data);
  const sq = ramp(3, 3);
  const r90 = rotate(sq, 90);
  // counter-clockwise: the top-right pixel goes to the top-left
  assert.deepEqual(pixel(r90, 0, 0), pixel(sq, 2, 0));
  assert.deepEqual(pixel(r90, 0, 2), pixel(sq, 0, 0));
  assert.deepEqual(rotate(rotate(sq, 90), 270).data, sq.data);
  assert.deepEqual(rotate(rotate(input, 180), 180).data, input.data);
});

Deno.test("shearX() on a hand-made image shifts each row by factor * (y + 0.5)", () => {
  const src = ramp(4, 2);
  const out = shearX(src, 1, { fill: [0, 0, 0], interpolation: "nearest" });
  // row 0: x_in = x + 0.5 + 0.5 -> x + 1; row 1: x_in = x + 0.5 + 1.5 -> x + 2
  assert.deepEqual(pixel(out, 0, 0), pixel(src, 1, 0));
  assert.deepEqual(pixel(out, 2, 0), pixel(src, 3, 0));
  assert.deepEqual(pixel(out, 3, 0), [0, 0, 0]);
  assert.deepEqual(pixel(out, 0, 1), pixel(src, 2, 1));
  assert.deepEqual(pixel(out, 2, 1), [0, 0, 0]);
  assert.deepEqual(shearX(src, 0).data, src.data);
  assert.deepEqual(shearY(src, 0).data, src.data);
});

Deno.test("translateX()/translateY() by whole pixels move content and fill the rest", () => {
  const src = ramp(4, 3);
  const left = translateX(src, 1, { fill: [9, 9, 9] });
  assert.deepEqual(pixel(left, 0, 0), pixel(src, 1, 0));
  assert.deepEqual(pixel(left, 3, 0), [9, 9, 9]);
  const down = translateY(src, -1, { fill: [9, 9, 9], interpolation: "bicubic" });
  assert.deepEqual(pixel(down, 2, 1), pixel(src, 2, 0));
  assert.deepEqual(pixel(down, 2, 0), [9, 9, 9]);
});

Deno.test("affine() with the identity matrix is exact for every interpolation", () => {
  for (const interpolation of ["nearest", "bilinear", "bicubic"] as const) {
    assert.deepEqual(affine(input, [1, 0, 0, 0, 1, 0], { interpolation }).data, input.data, interpolation);
  }
});

Deno.test("hflip() mirrors rows and twice is the identity", () => {
  const src = ramp(3, 2);
  assert.deepEqual(pixel(hflip(src), 0, 1), pixel(src, 2, 1));
  assert.deepEqual(hflip(hflip(input)).data, input.data);
});

Deno.test("crop(), fiveCrop() and tenCrop() follow torchvision's corners and order", () => {
  const src = ramp(5, 4);
  assert.throws(() => crop(src, { left: 3, top: 0, width: 3, height: 1 }), /outside/);
  const five = fiveCrop(src, 2);
  assert.deepEqual(pixel(five[0], 0, 0), pixel(src, 0, 0)); // top-left
  assert.deepEqual(pixel(five[1], 0, 0), pixel(src, 3, 0)); // top-right
  assert.deepEqual(pixel(five[2], 0, 0), pixel(src, 0, 2)); // bottom-left
  assert.deepEqual(pixel(five[3], 1, 1), pixel(src, 4, 3)); // bottom-right
  assert.deepEqual(pixel(five[4], 0, 0), pixel(src, 2, 1)); // centre: round(1.5) = 2, round(1) = 1
  const ten = tenCrop(src, 2);
  assert.equal(ten.length, 10);
  assert.deepEqual(ten[5].data, fiveCrop(hflip(src), 2)[0].data);
  assert.deepEqual(pixel(ten[5], 0, 0), pixel(src, 4, 0));
});

Deno.test("normalizeInto() applies ImageNet mean and std per channel", () => {
  const out = new Float32Array(7).fill(-99);
  normalizeInto(image(2, 1, [0, 128, 255, 255, 0, 51]), out, { offset: 1 });
  assert.equal(out[0], -99);
  const expected = [0, 128, 255, 255, 0, 51].map((v, i) =>
    (v / 255 - IMAGENET_MEAN[i % 3]) / IMAGENET_STD[i % 3]
  );
  expected.forEach((v, i) => assert.ok(Math.abs(out[i + 1] - v) < 1e-5));
});

Deno.test("randomErasingInPlace() erases one rectangle within the scale and ratio bounds", () => {
  let erased = 0;
  for (let seed = 0; seed < 200; seed++) {
    const pixels = new Float32Array(20 * 10 * 3).fill(7);
    const box = randomErasingInPlace({ data: pixels, width: 20, height: 10 }, new Random(seed), {
      p: 0.5,
      scale: [0.02, 0.25],
    });
    const zeros = pixels.filter((v) => v === 0).length;
    if (!box) {
      assert.equal(zeros, 0);
      continue;
    }
    erased++;
    assert.equal(zeros, box.width * box.height * 3);
    assert.ok(box.left + box.width <= 20 && box.top + box.height <= 10);
    assert.ok(box.width * box.height <= 0.25 * 200 * 1.5 + 2);
    for (let y: number = box.top; y < box.top + box.height; y++) {
      for (let x: number = box.left; x < box.left + box.width; x++) assert.equal(pixels[(y * 20 + x) * 3], 0);
    }
  }
  assert.ok(erased > 60 && erased < 140, `erased ${erased} of 200 with p = 0.5`);
  const never = new Float32Array(300).fill(1);
  assert.equal(
    randomErasingInPlace({ data: never, width: 10, height: 10 }, new Random(1), { p: 0 }),
    undefined,
  );
  const noisy = new Float32Array(8 * 8 * 3).fill(100);
  randomErasingInPlace({ data: noisy, width: 8, height: 8 }, new Random(5), {
    p: 1,
    value: "random",
    scale: [0.2, 0.3],
  });
  assert.ok(noisy.some((v) => v !== 100 && Math.abs(v) < 6));
});
