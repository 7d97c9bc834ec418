/** One page of items, pages counted from 1. */
export function page(items, number, size) {
  const start = (number - 1) * size;
  const end = start + size - 1;
  return items.slice(start, end);
}

/** How many pages `count` items fill; a partial last page counts. */
export function pageCount(count, size) {
  return Math.ceil(count / size);
}
