/**
 * gee-crop: 5-day median composite of cloud-free Sentinel-2 (Code Editor version).
 *
 * Mirrors gee_crop/earthengine/composite.py (median_composite) and collections.py:
 *   - COPERNICUS/S2_SR_HARMONIZED linked with GOOGLE/CLOUD_SCORE_PLUS/V1/S2_HARMONIZED,
 *     pixels kept where the Cloud Score+ band (cs or cs_cdf) >= THRESHOLD (0.75),
 *   - the 10 bands B2 B3 B4 B8 B5 B6 B7 B8A B11 B12 (DN = reflectance x 10,000),
 *   - season: May 1 + 213 days in the north, six months earlier (Nov 1 of year-1) in the south,
 *     cut into 43 windows of 5 days; window k = [start + 5k, start + 5k + 5) days,
 *   - median per window, empty windows filled by linear interpolation in time (edges: nearest),
 *     pixels whose longest run of empty windows exceeds MAX_GAP_BINS (10) masked,
 *   - output: uint16 bands B2_t00 ... B2_t42, B3_t00 ... (band-major) = the 10 x 43 CropNet input.
 * Keep the constants equal to gee_crop/config.py; tests/earthengine/test_ee_scripts.py checks them.
 */
var BANDS = ['B2', 'B3', 'B4', 'B8', 'B5', 'B6', 'B7', 'B8A', 'B11', 'B12'];
var S2_COLLECTION = 'COPERNICUS/S2_SR_HARMONIZED';
var CLOUD_SCORE_PLUS = 'GOOGLE/CLOUD_SCORE_PLUS/V1/S2_HARMONIZED';
var CLOUD_BAND = 'cs';          // or 'cs_cdf'
var THRESHOLD = 0.75;
var SEASON_LENGTH_DAYS = 213;
var WINDOW_DAYS = 5;
var MAX_GAP_BINS = 10;
var SOUTH_SHIFT_MONTHS = 6;

var YEAR = 2023;
var region = ee.Geometry.Rectangle([5.1056, 47.1289, 5.2309, 47.2239]);  // Burgundy test site

function seasonStart(year, latitude) {
  var start = ee.Date.fromYMD(year, 5, 1);
  return latitude < 0 ? start.advance(-SOUTH_SHIFT_MONTHS, 'month') : start;
}

function clearCollection(region, start, end) {
  var s2 = ee.ImageCollection(S2_COLLECTION).filterBounds(region).filterDate(start, end)
      .linkCollection(ee.ImageCollection(CLOUD_SCORE_PLUS), [CLOUD_BAND])
      .select(BANDS.concat([CLOUD_BAND]));
  return s2.map(function (image) {
    return image.updateMask(image.select(CLOUD_BAND).gte(THRESHOLD)).select(BANDS);
  });
}

function windowMedians(clear, start, nBins) {
  var empty = ee.ImageCollection([ee.Image.constant(BANDS.map(function () { return 0; }))
      .rename(BANDS).toFloat().updateMask(0)]);
  var bins = [];
  for (var k = 0; k < nBins; k++) {
    var first = start.advance(k * WINDOW_DAYS, 'day');
    var median = clear.filterDate(first, first.advance(WINDOW_DAYS, 'day'))
        .map(function (im) { return im.toFloat(); }).merge(empty).median();
    var t = ee.Image.constant(k).toFloat().rename('t').updateMask(median.select(BANDS[0]).mask());
    bins.push(median.addBands(t));
  }
  return bins;
}

function gapFilled(bins) {
  var n = bins.length, before = [], after = new Array(n), out = [], longest = null;
  for (var k = 0; k < n; k++) before.push(k === 0 ? bins[0] : bins[k].unmask(before[k - 1]));
  for (k = n - 1; k >= 0; k--) after[k] = k === n - 1 ? bins[k] : bins[k].unmask(after[k + 1]);
  for (k = 0; k < n; k++) {
    var tPrev = before[k].select('t').unmask(-1), tNext = after[k].select('t').unmask(n);
    var vPrev = before[k].select(BANDS), vNext = after[k].select(BANDS);
    var w = ee.Image.constant(k).subtract(tPrev).divide(tNext.subtract(tPrev).max(1));
    var value = vPrev.add(vNext.subtract(vPrev).multiply(w)).unmask(vPrev).unmask(vNext);
    var suffix = '_t' + (k < 10 ? '0' + k : k);
    out.push(value.rename(BANDS.map(function (b) { return b + suffix; })));
    var gap = tNext.subtract(tPrev).subtract(1);
    longest = longest === null ? gap : longest.max(gap);
  }
  var names = [];
  BANDS.forEach(function (b) {
    for (var j = 0; j < n; j++) names.push(b + '_t' + (j < 10 ? '0' + j : j));
  });
  return ee.Image.cat(out).select(names).round().toUint16().updateMask(longest.lte(MAX_GAP_BINS));
}

function medianComposite(region, year) {
  var latitude = region.centroid(1).coordinates().getNumber(1).getInfo();
  var start = seasonStart(year, latitude);
  var nBins = Math.ceil(SEASON_LENGTH_DAYS / WINDOW_DAYS);  // 43
  var clear = clearCollection(region, start, start.advance(nBins * WINDOW_DAYS, 'day'));
  return gapFilled(windowMedians(clear, start, nBins)).clip(region);
}

var composite = medianComposite(region, YEAR);
print('bands (10 x 43, band-major)', composite.bandNames().size());
Map.centerObject(region, 12);
Map.addLayer(composite, {bands: ['B8_t20', 'B4_t20', 'B3_t20'], min: 0, max: 4000}, 'July composite (NIR-R-G)');
