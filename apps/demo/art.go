package demo

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
)

// Art draws a demo product's picture: a soft two-tone backdrop in the product's hue and a
// simple silhouette of what it is. The machine has no stock photos and the demo must work
// offline, so pictures are drawn rather than downloaded.
type Art struct {
	Hue   float64 // 0–360
	Shape string  // lamp, pendant, chair, table, leaf, disc, cup, ring, sweater, hat, ball
}

const artSize = 480

// PNG renders the picture.
func (a Art) PNG() ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, artSize, artSize))
	top, bottom := hsl(a.Hue, 0.45, 0.92), hsl(a.Hue, 0.40, 0.80)
	ink := hsl(a.Hue, 0.55, 0.32)
	for y := 0; y < artSize; y++ {
		t := float64(y) / artSize
		row := mix(top, bottom, t)
		for x := 0; x < artSize; x++ {
			img.SetRGBA(x, y, row)
		}
	}
	in, ok := shapes[a.Shape]
	if !ok {
		return nil, fmt.Errorf("demo art: unknown shape %q", a.Shape)
	}
	// A soft floor shadow first, then the silhouette, sampled 2×2 per pixel for smooth edges.
	shadow := color.RGBA{0, 0, 0, 40}
	for y := 0; y < artSize; y++ {
		for x := 0; x < artSize; x++ {
			fx, fy := float64(x)/artSize, float64(y)/artSize
			if ellipse(fx, fy, 0.5, 0.86, 0.30, 0.035) {
				img.SetRGBA(x, y, over(img.RGBAAt(x, y), shadow))
			}
			cover := 0
			for _, d := range [4][2]float64{{0.25, 0.25}, {0.75, 0.25}, {0.25, 0.75}, {0.75, 0.75}} {
				if in((float64(x)+d[0])/artSize, (float64(y)+d[1])/artSize) {
					cover++
				}
			}
			if cover > 0 {
				c := ink
				c.A = uint8(255 * cover / 4)
				img.SetRGBA(x, y, over(img.RGBAAt(x, y), c))
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("demo art: %w", err)
	}
	return buf.Bytes(), nil
}

// shapes are silhouettes in the unit square, y pointing down.
var shapes = map[string]func(x, y float64) bool{
	"lamp": func(x, y float64) bool {
		return rect(x, y, 0.36, 0.80, 0.64, 0.85) || // base
			segment(x, y, 0.50, 0.80, 0.38, 0.45, 0.018) || segment(x, y, 0.38, 0.45, 0.60, 0.30, 0.018) ||
			cone(x, y, 0.60, 0.24, 0.08, 0.17, 0.16) // shade
	},
	"pendant": func(x, y float64) bool {
		return rect(x, y, 0.495, 0.05, 0.505, 0.40) || cone(x, y, 0.5, 0.40, 0.06, 0.22, 0.20) ||
			ellipse(x, y, 0.5, 0.62, 0.06, 0.03)
	},
	"chair": func(x, y float64) bool {
		return rect(x, y, 0.30, 0.55, 0.70, 0.60) || rect(x, y, 0.32, 0.60, 0.35, 0.85) || rect(x, y, 0.65, 0.60, 0.68, 0.85) ||
			rect(x, y, 0.30, 0.20, 0.33, 0.55) || rect(x, y, 0.67, 0.20, 0.70, 0.55) || rect(x, y, 0.30, 0.20, 0.70, 0.26) ||
			rect(x, y, 0.42, 0.26, 0.44, 0.55) || rect(x, y, 0.56, 0.26, 0.58, 0.55)
	},
	"table": func(x, y float64) bool {
		return rect(x, y, 0.18, 0.42, 0.82, 0.48) || rect(x, y, 0.22, 0.48, 0.26, 0.85) || rect(x, y, 0.74, 0.48, 0.78, 0.85)
	},
	"leaf": func(x, y float64) bool {
		return ellipse(x, y, 0.42, 0.50, 0.14, 0.30) || ellipse(x, y, 0.60, 0.55, 0.12, 0.24) || segment(x, y, 0.5, 0.85, 0.5, 0.70, 0.012)
	},
	"disc": func(x, y float64) bool {
		return ellipse(x, y, 0.5, 0.52, 0.30, 0.30) && !ellipse(x, y, 0.5, 0.52, 0.05, 0.05)
	},
	"cup": func(x, y float64) bool {
		return cone(x, y, 0.5, 0.40, 0.20, 0.13, 0.30) || ellipse(x, y, 0.5, 0.36, 0.24, 0.05) || ellipse(x, y, 0.5, 0.30, 0.05, 0.04)
	},
	"ring": func(x, y float64) bool {
		return ellipse(x, y, 0.5, 0.52, 0.30, 0.30) && !ellipse(x, y, 0.5, 0.52, 0.22, 0.22)
	},
	"sweater": func(x, y float64) bool {
		return rect(x, y, 0.32, 0.25, 0.68, 0.80) || segment(x, y, 0.34, 0.28, 0.16, 0.70, 0.06) || segment(x, y, 0.66, 0.28, 0.84, 0.70, 0.06)
	},
	"hat": func(x, y float64) bool {
		return (ellipse(x, y, 0.5, 0.62, 0.24, 0.34) && y < 0.66) || rect(x, y, 0.25, 0.62, 0.75, 0.72) || ellipse(x, y, 0.5, 0.26, 0.06, 0.06)
	},
	"ball": func(x, y float64) bool {
		return ellipse(x, y, 0.5, 0.55, 0.26, 0.26) && math.Mod(math.Abs(x-y)*40, 2) > 0.5
	},
}

func rect(x, y, x0, y0, x1, y1 float64) bool { return x >= x0 && x <= x1 && y >= y0 && y <= y1 }

func ellipse(x, y, cx, cy, rx, ry float64) bool {
	dx, dy := (x-cx)/rx, (y-cy)/ry
	return dx*dx+dy*dy <= 1
}

// cone is a trapezoid centred on cx from y0 (half width top) down height h (half width bottom).
func cone(x, y, cx, y0, top, bottom, h float64) bool {
	if y < y0 || y > y0+h {
		return false
	}
	w := top + (bottom-top)*(y-y0)/h
	return math.Abs(x-cx) <= w
}

// segment is a thick line from (x0, y0) to (x1, y1).
func segment(x, y, x0, y0, x1, y1, width float64) bool {
	dx, dy := x1-x0, y1-y0
	t := math.Max(0, math.Min(1, ((x-x0)*dx+(y-y0)*dy)/(dx*dx+dy*dy)))
	px, py := x0+t*dx, y0+t*dy
	return math.Hypot(x-px, y-py) <= width
}

func hsl(h, s, l float64) color.RGBA {
	c := (1 - math.Abs(2*l-1)) * s
	hp := math.Mod(h, 360) / 60
	x := c * (1 - math.Abs(math.Mod(hp, 2)-1))
	var r, g, b float64
	switch {
	case hp < 1:
		r, g = c, x
	case hp < 2:
		r, g = x, c
	case hp < 3:
		g, b = c, x
	case hp < 4:
		g, b = x, c
	case hp < 5:
		r, b = x, c
	default:
		r, b = c, x
	}
	m := l - c/2
	return color.RGBA{uint8((r + m) * 255), uint8((g + m) * 255), uint8((b + m) * 255), 255}
}

func mix(a, b color.RGBA, t float64) color.RGBA {
	f := func(p, q uint8) uint8 { return uint8(float64(p)*(1-t) + float64(q)*t) }
	return color.RGBA{f(a.R, b.R), f(a.G, b.G), f(a.B, b.B), 255}
}

// over composites c (straight alpha) onto the opaque dst.
func over(dst, c color.RGBA) color.RGBA {
	a := float64(c.A) / 255
	f := func(d, s uint8) uint8 { return uint8(float64(d)*(1-a) + float64(s)*a) }
	return color.RGBA{f(dst.R, c.R), f(dst.G, c.G), f(dst.B, c.B), 255}
}
