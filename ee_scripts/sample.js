/**
 * gee-crop: sampling of labelled pixels and their raw Sentinel-2 series (Code Editor version).
 *
 * Mirrors gee_crop/earthengine/sampling.py (sampling_graph) and labels.py:
 *   1. reference labels remapped to the 7 classes (corn 0, soybeans 1, rice 2, wheat 3,
 *      sugarcane 4, cotton 5, other 6); here the USA CDL (the other countries are your assets,
 *      see docs/earthengine.md and gee_crop/resources/labels/),
 *   2. 60 m inward buffer: a pixel keeps its class only if all pixels within 60 m share it,
 *   3. pixels with a label and at least one clear acquisition (Cloud Score+ >= 0.75),
 *   4. PER_CELL random points per 0.1 deg cell at 60 m (1 per cell in the USA, 5 elsewhere),
 *   5. one row per point and acquisition of the year: lon, lat, class, date, the 10 bands, cs
 *      (raw DN, clouds not masked: the score is kept so masking can be redone).
 * Export the rows as CSV, download them into one folder and build the table with
 *   gee-crop sample --from-exports FOLDER --out table.parquet
 */
var BANDS = ['B2', 'B3', 'B4', 'B8', 'B5', 'B6', 'B7', 'B8A', 'B11', 'B12'];
var S2_COLLECTION = 'COPERNICUS/S2_SR_HARMONIZED';
var CLOUD_SCORE_PLUS = 'GOOGLE/CLOUD_SCORE_PLUS/V1/S2_HARMONIZED';
var CLOUD_BAND = 'cs';
var THRESHOLD = 0.75;
var INWARD_BUFFER_M = 60;
var GRID_CELL_DEG = 0.1;
var SAMPLE_SPACING_M = 60;
var PER_CELL = 1;          // USA: 1, elsewhere: 5
var NO_CLASS = 255;
var YEAR = 2023;
var region = ee.Geometry.Rectangle([-93.8, 42.0, -93.6, 42.2]);  // Iowa

// CDL cropland codes -> class index: the whole table of gee_crop/resources/labels/cdl_remap.csv (codes
// the Python table excludes are NO_CLASS here too), and the per-state accuracy filter.
// BEGIN generated from gee_crop/resources/labels/cdl_remap.csv and cdl_state_accuracy.csv (python ee_scripts/update_tables.py)
var CDL_FROM = [1, 2, 3, 5, 12, 13, 22, 23, 24, 45, 26, 225, 226, 228, 230, 231, 232, 233, 234, 235, 236, 237, 238, 239, 240, 241, 254, 0, 63, 64, 65, 81, 82, 83, 87, 88, 92, 111, 112, 121, 122, 123, 124, 131, 141, 142, 143, 152, 176, 190, 195];
var CDL_TO = [0, 5, 2, 1, 0, 0, 3, 3, 3, 4, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255];
var CDL_DEFAULT = 6;
// year -> CDL code -> state FIPS codes where the code passes the accuracy filter (METHOD.md)
var ACCURACY = {};
// END generated
var ACCURACY_FILTER = true;  // METHOD.md: USA classes only in states where CDL is accurate enough
var LABEL_CRS = 'EPSG:32615';  // UTM zone of the region (Iowa: 15N): the buffer runs on its 10 m grid, points on its 60 m grid

function s2WithScore(region, start, end) {
  return ee.ImageCollection(S2_COLLECTION).filterBounds(region).filterDate(start, end)
      .linkCollection(ee.ImageCollection(CLOUD_SCORE_PLUS), [CLOUD_BAND])
      .select(BANDS.concat([CLOUD_BAND]));
}

function accuracyMask(cdl, allowed) {
  // 1 where the pixel's CDL code is accurate enough in its state (gee_crop/earthengine/labels.py)
  var states = ee.FeatureCollection('TIGER/2018/States').map(function (f) {
    return f.set('fips', ee.Number.parse(f.get('STATEFP')));
  });
  var state = states.reduceToImage(['fips'], ee.Reducer.first());
  var ok = ee.Image.constant(0);
  Object.keys(allowed).forEach(function (code) {
    var fips = allowed[code];
    ok = ok.where(cdl.eq(Number(code)).and(state.remap(fips, fips.map(function () { return 1; }), 0)), 1);
  });
  return ok;
}

function referenceLabels(year) {
  var cdl = ee.ImageCollection('USDA/NASS/CDL').filter(ee.Filter.calendarRange(year, year, 'year'))
      .first().select('cropland');
  var classes = cdl.remap(CDL_FROM, CDL_TO, CDL_DEFAULT);  // codes not listed -> the table's default
  classes = classes.updateMask(classes.neq(NO_CLASS));
  if (ACCURACY_FILTER) {
    if (!(String(year) in ACCURACY)) {
      throw new Error('no per-state CDL accuracies for ' + year + ': fill gee_crop/resources/labels/' +
                      'cdl_state_accuracy.csv, run python ee_scripts/update_tables.py, or set ACCURACY_FILTER = false');
    }
    classes = classes.updateMask(accuracyMask(cdl, ACCURACY[String(year)]));
  }
  return classes.rename('class');
}

// Earth Engine computes each operation in the projection its output is requested in; reproject pins
// only what is upstream of it (https://developers.google.com/earth-engine/guides/projections): so the
// reproject comes after the focal operations, which then run on the 10 m UTM grid.
function inwardBuffer(labels, radius) {
  var filled = labels.unmask(NO_CLASS);
  var low = filled.focalMin({radius: radius, kernelType: 'circle', units: 'meters'});
  var high = filled.focalMax({radius: radius, kernelType: 'circle', units: 'meters'});
  return labels.updateMask(low.eq(high).and(filled.neq(NO_CLASS))).rename('class')
      .reproject({crs: LABEL_CRS, scale: 10});
}

function cellIndex(cellDeg) {
  var ll = ee.Image.pixelLonLat();
  var col = ll.select('longitude').add(180).divide(cellDeg).floor();
  var row = ll.select('latitude').add(90).divide(cellDeg).floor();
  return row.multiply(Math.round(360 / cellDeg)).add(col).toInt32().rename('cell');
}

var start = ee.Date.fromYMD(YEAR, 1, 1), end = ee.Date.fromYMD(YEAR + 1, 1, 1);  // south: Jul 1 of YEAR-1
var raw = s2WithScore(region, start, end);
var clearCount = raw.map(function (im) {
  return im.updateMask(im.select(CLOUD_BAND).gte(THRESHOLD)).select(BANDS);
}).select(BANDS[0]).count();
var labels = inwardBuffer(referenceLabels(YEAR), INWARD_BUFFER_M).updateMask(clearCount.gt(0));
var stack = cellIndex(GRID_CELL_DEG).addBands(labels)
    .addBands(ee.Image.pixelLonLat().rename(['lon', 'lat'])).updateMask(labels.mask());
var points = stack.stratifiedSample({numPoints: PER_CELL, classBand: 'cell', region: region,
                                     projection: ee.Projection(LABEL_CRS),
                                     scale: SAMPLE_SPACING_M, seed: 0, geometries: true});
var rows = raw.map(function (image) {
  var date = image.date().format('YYYY-MM-dd');
  return image.sampleRegions({collection: points, properties: ['lon', 'lat', 'class'], scale: 10})
      .map(function (row) { return row.set('date', date); });
}).flatten();

print('sample points', points.size());
Map.centerObject(region, 11);
Map.addLayer(points, {color: 'red'}, 'samples');
Export.table.toDrive({collection: rows, description: 'gee-crop_USA_' + YEAR + '_tile0000',
                      folder: 'gee-crop', fileFormat: 'CSV',
                      selectors: ['lon', 'lat', 'class', 'date'].concat(BANDS).concat([CLOUD_BAND])});
