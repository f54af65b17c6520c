/**
 * gee-crop: 5-day median composite of cloud-free Sentinel-2 (Code Editor version).
 *
 * Mirrors gee_crop/earthengine/composite.py (median_composite) and collections.py, function by function:
 *   - s2WithCloudScore: COPERNICUS/S2_SR_HARMONIZED linked with GOOGLE/CLOUD_SCORE_PLUS/V1/S2_HARMONIZED,
 *   - sameDayMosaics: same-day granules (overlapping MGRS tiles of one datatake) merged pixel by pixel,
 *     keeping the highest Cloud Score+ (qualityMosaic), so that no pixel is counted twice in a median,
 *   - clearObservations: pixels kept where the Cloud Score+ band (cs or cs_cdf) >= THRESHOLD,
 *   - windowMedians: the season (May 1 + 213 days in the north, six months earlier in the south) cut
 *     into N_BINS windows of WINDOW_DAYS; window k = [start + 5k, start + 5k + 5) days; one median per
 *     window with one time band per spectral band, each masked as its own band,
 *   - gapFilled: empty windows filled band by band by linear interpolation in time (edges: nearest),
 *     pixels whose longest run of empty windows in any band exceeds MAX_GAP_BINS masked,
 *   - output: uint16 bands B2_t00 ... B2_t42, B3_t00 ... (band-major) = the 10 x 43 CropNet input.
 * No getInfo: the hemisphere comes from REGION_BOUNDS on the client, window dates and labels are
 * computed from the season start. The generated block is written by `python ee_scripts/update_tables.py`
 * from gee_crop/config.py and gee_crop/season.py; tests/earthengine/test_ee_scripts.py checks the block
 * and runs this script against a recording stand-in for `ee` to check its structure.
 */
// BEGIN generated from gee_crop/config.py and gee_crop/season.py (python ee_scripts/update_tables.py)
var BANDS = ["B2", "B3", "B4", "B8", "B5", "B6", "B7", "B8A", "B11", "B12"];
var S2_COLLECTION = "COPERNICUS/S2_SR_HARMONIZED";
var CLOUD_SCORE_PLUS = "GOOGLE/CLOUD_SCORE_PLUS/V1/S2_HARMONIZED";
var CLOUD_SCORE_BANDS = ["cs", "cs_cdf"];
var THRESHOLD = 0.75;
var SEASON_START_MONTH_DAY = [5, 1];
var SEASON_LENGTH_DAYS = 213;
var WINDOW_DAYS = 5;
var N_BINS = 43;
var MAX_GAP_BINS = 10;
var SOUTH_SHIFT_MONTHS = 6;
var TIME_PREFIX = "t_";
// END generated
var CLOUD_BAND = 'cs';          // or 'cs_cdf' (CLOUD_SCORE_BANDS)

var YEAR = 2023;
var REGION_BOUNDS = [5.1056, 47.1289, 5.2309, 47.2239];  // west, south, east, north: Burgundy test site
var SHOW_WINDOW = 20;                                     // the window shown on the map
var region = ee.Geometry.Rectangle(REGION_BOUNDS);

var MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
var DAY_MS = 24 * 3600 * 1000;
var TIME_BANDS = BANDS.map(function (b) { return TIME_PREFIX + b; });

function bandName(band, k) {
  return band + '_t' + (k < 10 ? '0' + k : '' + k);
}

// Season start (a client-side UTC date): SEASON_START_MONTH_DAY of the year, SOUTH_SHIFT_MONTHS earlier
// south of the equator (Season.span).
function seasonStart(year, latitude) {
  var shift = latitude < 0 ? SOUTH_SHIFT_MONTHS : 0;
  return new Date(Date.UTC(year, SEASON_START_MONTH_DAY[0] - 1 - shift, SEASON_START_MONTH_DAY[1]));
}

// First day of window k and the first day after it (client-side UTC dates; SeasonSpan.bin_starts).
function windowDates(start, k) {
  var first = new Date(start.getTime() + k * WINDOW_DAYS * DAY_MS);
  return [first, new Date(first.getTime() + WINDOW_DAYS * DAY_MS)];
}

// "9–13 Aug 2023": the days window k covers, computed from its dates.
function windowLabel(start, k) {
  var dates = windowDates(start, k), first = dates[0], last = new Date(dates[1].getTime() - DAY_MS);
  var head = first.getUTCDate() + (first.getUTCMonth() === last.getUTCMonth() ? '' : ' ' + MONTHS[first.getUTCMonth()])
      + (first.getUTCFullYear() === last.getUTCFullYear() ? '' : ' ' + first.getUTCFullYear());
  return head + '\u2013' + last.getUTCDate() + ' ' + MONTHS[last.getUTCMonth()] + ' ' + last.getUTCFullYear();
}

function s2WithCloudScore(region, start, end) {
  return ee.ImageCollection(S2_COLLECTION).filterBounds(region).filterDate(start, end)
      .linkCollection(ee.ImageCollection(CLOUD_SCORE_PLUS), [CLOUD_BAND])
      .select(BANDS.concat([CLOUD_BAND]));
}

// One image per day that has acquisitions: same-day granules merged keeping the highest Cloud Score+.
function sameDayMosaics(raw, start, nDays) {
  var days = ee.List.sequence(0, nDays - 1).map(function (k) {
    var begin = start.advance(k, 'day');
    var granules = raw.filterDate(begin, begin.advance(1, 'day'));
    return granules.qualityMosaic(CLOUD_BAND).set('system:time_start', begin.millis(), 'granules', granules.size());
  });
  return ee.ImageCollection.fromImages(days).filter(ee.Filter.gt('granules', 0));
}

function clearObservations(collection) {
  return collection.map(function (image) {
    return image.updateMask(image.select(CLOUD_BAND).gte(THRESHOLD)).select(BANDS);
  });
}

function windowMedians(clear, start) {
  var empty = ee.ImageCollection.fromImages([ee.Image.constant(BANDS.map(function () { return 0; }))
      .rename(BANDS).toFloat().updateMask(0)]);
  var bins = [];
  for (var k = 0; k < N_BINS; k++) {
    var dates = windowDates(start, k);
    var median = clear.filterDate(ee.Date(dates[0].getTime()), ee.Date(dates[1].getTime()))
        .map(function (im) { return im.toFloat(); }).merge(empty).median();
    var time = median.multiply(0).add(k).rename(TIME_BANDS);  // k where each band is valid, per band
    bins.push(median.addBands(time));
  }
  return bins;
}

function gapFilled(bins, maxGapBins) {
  var n = bins.length, before = [], after = new Array(n), out = [], longest = null, k;
  for (k = 0; k < n; k++) before.push(k === 0 ? bins[0] : bins[k].unmask(before[k - 1]));
  for (k = n - 1; k >= 0; k--) after[k] = k === n - 1 ? bins[k] : bins[k].unmask(after[k + 1]);
  for (k = 0; k < n; k++) {
    var tPrev = before[k].select(TIME_BANDS).unmask(-1), tNext = after[k].select(TIME_BANDS).unmask(n);
    var vPrev = before[k].select(BANDS), vNext = after[k].select(BANDS);
    var weight = tPrev.multiply(-1).add(k).divide(tNext.subtract(tPrev).max(1));
    var value = vPrev.add(vNext.subtract(vPrev).multiply(weight)).unmask(vPrev).unmask(vNext);
    out.push(value.rename(BANDS.map(function (b) { return bandName(b, k); })));
    var gap = tNext.subtract(tPrev).subtract(1);  // empty windows between the two valid ones, per band
    longest = longest === null ? gap : longest.max(gap);
  }
  var worst = longest.select([TIME_BANDS[0]]);
  TIME_BANDS.slice(1).forEach(function (name) { worst = worst.max(longest.select([name])); });
  var names = [];
  BANDS.forEach(function (b) { for (var j = 0; j < n; j++) names.push(bandName(b, j)); });
  return ee.Image.cat(out).select(names).round().toUint16().updateMask(worst.lte(maxGapBins));
}

function medianComposite(region, latitude, year) {
  var start = seasonStart(year, latitude);
  var first = ee.Date(start.getTime()), nDays = N_BINS * WINDOW_DAYS;
  var raw = s2WithCloudScore(region, first, first.advance(nDays, 'day'));
  var clear = clearObservations(sameDayMosaics(raw, first, nDays));
  return gapFilled(windowMedians(clear, start), MAX_GAP_BINS).clip(region);
}

var latitude = (REGION_BOUNDS[1] + REGION_BOUNDS[3]) / 2;
var composite = medianComposite(region, latitude, YEAR);
print('bands (10 x ' + N_BINS + ', band-major)', composite.bandNames().size());
Map.centerObject(region, 12);
Map.addLayer(composite, {bands: [bandName('B8', SHOW_WINDOW), bandName('B4', SHOW_WINDOW), bandName('B3', SHOW_WINDOW)],
                         min: 0, max: 4000},
             'window t' + SHOW_WINDOW + ', ' + windowLabel(seasonStart(YEAR, latitude), SHOW_WINDOW) + ' (NIR-R-G)');
